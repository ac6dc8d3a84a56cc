//! Campaigns: a brand groups some of its agreements, and rooms hosted by those agreements'
//! creators, under a budget and an optional flat fee per creator, to compare its creators
//! side by side (the campaign report) and see what the campaign cost and returned.

use super::ReportError;
use crate::domain::{AgreementId, BrandId, CampaignId, Clock, Invalid, Money, Refusal, Role, RoomId};
use crate::store::{AccountRow, CampaignFields, CampaignRow, Store};
use crate::wire::report::{CampaignPatchRequest, CampaignView, NewCampaignRequest};
use std::collections::BTreeSet;

type Result<T> = std::result::Result<T, ReportError>;

/// Campaigns; cheap to clone.
#[derive(Clone)]
pub struct Campaigns {
    store: Store,
    clock: Clock,
}

pub fn view(c: &CampaignRow) -> CampaignView {
    CampaignView {
        id: c.id,
        brand_id: c.brand_id,
        name: c.name.clone(),
        budget: Money::new(c.budget, c.currency),
        flat_fee: Money::new(c.flat_fee, c.currency),
        agreement_ids: c.agreements.clone(),
        room_ids: c.rooms.clone(),
        created_at: c.created_at,
    }
}

/// A campaign as it is about to be written: checked against the brand's agreements and
/// their creators' rooms.
struct Checked {
    name: String,
    budget: Money,
    flat_fee: i64,
    agreements: Vec<AgreementId>,
    rooms: Vec<RoomId>,
}

fn amount(field: &'static str, m: Money) -> std::result::Result<i64, Invalid> {
    if (0..=NewCampaignRequest::MAX_AMOUNT).contains(&m.amount) {
        Ok(m.amount)
    } else {
        let max = NewCampaignRequest::MAX_AMOUNT;
        Err(Invalid::new(field, format!("must be between 0 and {max} minor units, got {}", m.amount)))
    }
}

/// The distinct ids of `ids`, in order, at most `max` of them.
fn distinct<T: Ord + Copy>(field: &'static str, ids: &[T], max: usize) -> std::result::Result<Vec<T>, Invalid> {
    let set: BTreeSet<T> = ids.iter().copied().collect();
    if set.len() > max {
        return Err(Invalid::new(field, format!("at most {max}, got {}", set.len())));
    }
    Ok(set.into_iter().collect())
}

/// The brand `who` acts for.
fn brand_of(who: &AccountRow) -> Result<BrandId> {
    match (who.role, who.brand_id) {
        (Role::Brand, Some(b)) => Ok(b),
        _ => Err(Refusal::Forbidden("only brand members run campaigns").into()),
    }
}

impl Campaigns {
    pub fn new(store: Store, clock: Clock) -> Campaigns {
        Campaigns { store, clock }
    }

    async fn check(
        &self,
        brand: BrandId,
        name: String,
        budget: Money,
        flat_fee: Option<Money>,
        agreements: &[AgreementId],
        rooms: &[RoomId],
    ) -> Result<Checked> {
        amount("budget", budget)?;
        let fee = flat_fee.unwrap_or(Money::new(0, budget.currency));
        if fee.currency != budget.currency {
            return Err(Invalid::new("flat_fee", "must be in the budget's currency").into());
        }
        let flat_fee = amount("flat_fee", fee)?;
        let agreements = distinct("agreement_ids", agreements, NewCampaignRequest::MAX_AGREEMENTS)?;
        let rooms = distinct("room_ids", rooms, NewCampaignRequest::MAX_ROOMS)?;
        let mut creators = BTreeSet::new();
        for id in &agreements {
            match self.store.agreement(*id).await? {
                Some(a) if a.brand_id == brand => {
                    creators.insert(a.creator_id);
                }
                _ => {
                    return Err(Invalid::new("agreement_ids", format!("{id} is not an agreement of this brand")).into());
                }
            }
        }
        for id in &rooms {
            match self.store.room(*id).await? {
                // A rehearsal sells nothing: it is in no campaign.
                Some(r) if creators.contains(&r.creator_id) && r.rehearsal_of.is_none() => {}
                _ => {
                    let why = format!("room {id} is not hosted by a creator of the campaign's agreements");
                    return Err(Invalid::new("room_ids", why).into());
                }
            }
        }
        Ok(Checked { name, budget, flat_fee, agreements, rooms })
    }

    fn fields(c: &Checked) -> CampaignFields<'_> {
        CampaignFields {
            name: &c.name,
            budget: c.budget.amount,
            flat_fee: c.flat_fee,
            currency: c.budget.currency,
            agreements: &c.agreements,
            rooms: &c.rooms,
        }
    }

    pub async fn create(&self, who: &AccountRow, req: NewCampaignRequest) -> Result<CampaignView> {
        let brand = brand_of(who)?;
        let name = req.name.as_str().to_owned();
        let c = self.check(brand, name, req.budget, req.flat_fee, &req.agreement_ids, &req.room_ids).await?;
        match self.store.create_campaign(brand, &Self::fields(&c), self.clock.now()).await? {
            Some(created) => Ok(view(&created)),
            None => Err(Refusal::Conflict("this brand has as many campaigns as it may have").into()),
        }
    }

    /// The caller's brand's campaigns (every brand's, to an admin), newest first.
    pub async fn list(&self, who: &AccountRow) -> Result<Vec<CampaignView>> {
        let brand = match who.role {
            Role::Admin => None,
            _ => Some(brand_of(who)?),
        };
        let limit = crate::store::MAX_CAMPAIGNS_PER_BRAND;
        Ok(self.store.campaigns(brand, limit).await?.iter().map(view).collect())
    }

    /// A campaign of the caller's brand (any, to an admin); `not_found` otherwise.
    async fn visible(&self, who: &AccountRow, id: CampaignId) -> Result<CampaignRow> {
        let campaign = self.store.campaign(id).await?.ok_or(Refusal::NotFound("campaign"))?;
        let member = who.role == Role::Brand && who.brand_id == Some(campaign.brand_id);
        if member || who.role == Role::Admin { Ok(campaign) } else { Err(Refusal::NotFound("campaign").into()) }
    }

    pub async fn get(&self, who: &AccountRow, id: CampaignId) -> Result<CampaignView> {
        Ok(view(&self.visible(who, id).await?))
    }

    /// Changes what the patch names; the agreements and rooms as whole lists. Only the
    /// brand's members change a campaign.
    pub async fn update(&self, who: &AccountRow, id: CampaignId, patch: CampaignPatchRequest) -> Result<CampaignView> {
        let old = self.visible(who, id).await?;
        let brand = brand_of(who)?;
        let name = patch.name.map_or(old.name, |n| n.as_str().to_owned());
        let budget = patch.budget.unwrap_or(Money::new(old.budget, old.currency));
        let flat_fee = Some(patch.flat_fee.unwrap_or(Money::new(old.flat_fee, old.currency)));
        let agreements = patch.agreement_ids.unwrap_or(old.agreements);
        let rooms = patch.room_ids.unwrap_or(old.rooms);
        let c = self.check(brand, name, budget, flat_fee, &agreements, &rooms).await?;
        if !self.store.update_campaign(id, &Self::fields(&c)).await? {
            return Err(Refusal::NotFound("campaign").into());
        }
        self.get(who, id).await
    }
}
