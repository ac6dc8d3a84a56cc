//! What a room must tell its viewers about who pays: the sponsorship disclosure, and the
//! co-host who shares the commission.
//!
//! The rule: a room discloses each brand whose products it lines up and with which its
//! host has an active paid agreement (a rate or a flat amount above zero, for any of the
//! brand's products): "Paid partnership with A", "… with A and B", "… with A, B and C",
//! brands in the order the lineup first shows them. The REST room card reads it from the
//! database on every request; a room's viewers get it in their snapshot and, whenever a
//! co-host is set or cleared or an agreement between the host and a lined-up brand is
//! made or ended, in a `room_updated` event.

use super::{Commerce, CommerceError};
use crate::domain::{AccountId, BrandId};
use crate::store::RoomRow;
use crate::telemetry::Causes;
use crate::wire::ws::{CoHostCard, RoomEvent};

/// The disclosure for these brands, or `None` for none.
pub fn disclosure_text(partners: &[String]) -> Option<String> {
    let names = match partners {
        [] => return None,
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    Some(format!("Paid partnership with {names}"))
}

/// A room's co-host and disclosure, as the database has them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTerms {
    pub co_host: Option<CoHostCard>,
    pub disclosure: Option<String>,
}

impl RoomTerms {
    /// The event that tells a room's viewers.
    pub fn event(&self) -> RoomEvent {
        RoomEvent::RoomUpdated { co_host: self.co_host.clone(), disclosure: self.disclosure.clone() }
    }
}

impl Commerce {
    /// The co-host and the disclosure of `room` now.
    pub async fn room_terms(&self, room: &RoomRow) -> Result<RoomTerms, CommerceError> {
        let co_host = match room.co_host_id {
            Some(id) => self.store.account(id).await?.map(|a| CoHostCard { id: a.id, display_name: a.display_name }),
            None => None,
        };
        let partners = self.store.paid_partners(room.id, room.creator_id).await?;
        Ok(RoomTerms { co_host, disclosure: disclosure_text(&partners) })
    }

    /// An agreement between `host` and `brand` was made or ended: every scheduled or live
    /// room of the host lining up the brand's products is told its terms now. The
    /// agreement stands whatever happens here; a room not told learns at its next load.
    pub(super) async fn announce_room_terms(&self, host: AccountId, brand: BrandId) {
        let announce = async {
            for id in self.store.rooms_of_host_with_brand(host, brand).await? {
                if let Some(room) = self.store.room(id).await? {
                    self.events.publish(id, &self.room_terms(&room).await?.event()).await?;
                }
            }
            Ok::<(), CommerceError>(())
        };
        if let Err(e) = announce.await {
            tracing::warn!(error = %Causes(&e), "room terms not announced");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_two_and_many_brands_read_as_a_sentence() {
        assert_eq!(disclosure_text(&[]), None);
        assert_eq!(disclosure_text(&names(&["Glow Labs"])).unwrap(), "Paid partnership with Glow Labs");
        assert_eq!(disclosure_text(&names(&["A", "B"])).unwrap(), "Paid partnership with A and B");
        assert_eq!(disclosure_text(&names(&["A", "B", "C"])).unwrap(), "Paid partnership with A, B and C");
    }
}
