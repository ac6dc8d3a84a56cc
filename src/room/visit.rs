//! A viewer's visit to a room, for the reports: `joined` when it starts, `left` with the
//! time watched when it ends, whatever ends it (a close, a kick, a dropped connection).

use crate::analytics::{Event, Recorder, Who};
use crate::domain::{Clock, RoomId, UnixMs};

pub struct Visit {
    analytics: Recorder,
    clock: Clock,
    room: RoomId,
    who: Who,
    since: UnixMs,
}

impl Visit {
    pub fn start(analytics: &Recorder, clock: &Clock, room: RoomId, who: Who) -> Visit {
        analytics.record(Event::Joined { room, who: who.clone() });
        Visit { analytics: analytics.clone(), clock: clock.clone(), room, who, since: clock.now() }
    }
}

impl Drop for Visit {
    fn drop(&mut self) {
        let watched_ms = (self.clock.now().0 - self.since.0).max(0);
        let who = std::mem::replace(&mut self.who, Who { key: String::new(), account: None });
        self.analytics.record(Event::Left { room: self.room, who, watched_ms });
    }
}
