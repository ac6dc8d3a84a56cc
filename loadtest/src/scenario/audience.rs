//! `audience`: N viewers over R rooms with skewed popularity (room k draws in proportion
//! to 1/k, so a few big rooms and a long tail), joining over a ramp, each with a
//! behaviour: lurkers watch, chatters comment, reactors react, shoppers add to cart and
//! check out with a given probability. A share of viewers churns: leaves and comes back
//! with `since`, and must get exactly what it missed or a flagged snapshot.
//!
//! [`rehearse`] sends the same audience into one private rehearsal instead (docs/
//! protocol.md, 9.10), every viewer let in with its audience key: the host practises
//! before a crowd that chats and buys with test cards.

use super::progress;
use crate::client::test_card_checkout;
use crate::client::{Api, Error, RoomConn};
use crate::measure::{Latency, histogram, record};
use crate::server::usage;
use livecart::domain::{Reaction, RoomId, UnixMs};
use livecart::wire::api::{NewRoomRequest, RoomView, SessionResponse};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, RoomEvent, ServerMsg};
use rand::Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub struct Audience {
    pub viewers: usize,
    pub rooms: usize,
    pub ramp_secs: f64,
    pub seconds: u64,
    /// Shares of chatters, reactors and shoppers; the rest lurk.
    pub chatters: f64,
    pub reactors: f64,
    pub shoppers: f64,
    /// Probability that a shopper checks out after adding to cart.
    pub buy_probability: f64,
    /// Share of viewers that leave once and come back with `since`.
    pub churn: f64,
    /// The server's process, to sample its memory through the run (same machine only).
    pub server_pid: Option<u32>,
    pub quiet: bool,
}

/// A private rehearsal to fill: its room, and the audience key its host was given when
/// opening it (`POST /api/rooms/{room_id}/rehearsal`).
#[derive(Debug, Clone)]
pub struct Rehearsal {
    pub room: RoomId,
    pub audience_key: String,
}

/// Where a viewer goes: a room, with the audience key when it is a rehearsal.
#[derive(Debug, Clone)]
struct Stage {
    room: RoomId,
    audience_key: Option<String>,
}

/// The server's resident memory at a moment of the run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MemorySample {
    pub second: u64,
    pub rss_kib: u64,
}

/// How often the server's memory is sampled.
const MEMORY_EVERY: Duration = Duration::from_secs(10);
/// How long after the last viewer left the memory is read once more: well past the
/// server's release of the memory they freed (`livecart::malloc`), so the figure is what
/// the server keeps, not what it has yet to hand back.
const SETTLE: Duration = Duration::from_secs(35);

#[derive(Debug, Clone, Default, Serialize)]
pub struct AudienceReport {
    pub viewers: usize,
    pub rooms: usize,
    pub viewers_per_room: Vec<usize>,
    pub joined: usize,
    pub connection_failures: usize,
    pub comments_sent: u64,
    pub comments_received: u64,
    pub reactions_sent: u64,
    pub checkouts: BTreeMap<String, u64>,
    /// Paid orders the server flagged as a rehearsal's (all of them in a rehearsal, none
    /// elsewhere).
    pub rehearsal_orders: u64,
    pub resumed: u64,
    pub reset_snapshots: u64,
    pub gaps: u64,
    pub errors: BTreeMap<String, u64>,
    pub comment_latency: Latency,
    pub join_latency: Latency,
    /// Server memory before the first viewer, every 10 s, and after the last one left.
    pub memory: Vec<MemorySample>,
}

#[derive(Clone, Copy)]
enum Behaviour {
    Lurker,
    Chatter,
    Reactor,
    Shopper,
}

/// Where viewer `i` falls in [0, 1) when the audience is cut into shares of
/// behaviour: a golden-ratio sequence, so each share gets its proportion within three
/// viewers at any audience size up to thousands, spread over the ramp. Independent random rolls
/// left a small audience with no chatter at all about once in a hundred runs.
fn share_position(i: usize) -> f64 {
    (i as f64 * 0.618_033_988_749_895).fract()
}

/// Room index for a viewer: weights 1/1, 1/2, 1/3 … (Zipf), so popularity is skewed.
fn pick_room(rooms: usize, rng: &mut impl Rng) -> usize {
    let total: f64 = (1..=rooms).map(|k| 1.0 / k as f64).sum();
    let mut x = rng.r#gen::<f64>() * total;
    for k in 1..=rooms {
        x -= 1.0 / k as f64;
        if x <= 0.0 {
            return k - 1;
        }
    }
    rooms - 1
}

/// The host's live rooms, creating more (same lineup as its first) until there are `n`.
async fn rooms(api: &Api, host: &SessionResponse, n: usize) -> Result<Vec<Stage>, Error> {
    let first = api.hosted_live_room(host).await?;
    let mut rooms = vec![first.clone()];
    while rooms.len() < n {
        let req = NewRoomRequest {
            title: format!("Load room {}", rooms.len() + 1).as_str().try_into()?,
            starts_at: UnixMs(0),
            product_ids: first.lineup.iter().map(|p| p.id).collect(),
        };
        let room: RoomView = api.post(routes::ROOMS, &host.token, &req).await?;
        let live: RoomView = api.post(&path(routes::ROOM_GO_LIVE, &[room.id.get()]), &host.token, &()).await?;
        rooms.push(live);
    }
    Ok(rooms.into_iter().map(|r| Stage { room: r.id, audience_key: None }).collect())
}

/// The audience over `host`'s live rooms (creating rooms up to `cfg.rooms`).
pub async fn run(api: &Api, host: &SessionResponse, run_id: &str, cfg: &Audience) -> Result<AudienceReport, Error> {
    let stages = rooms(api, host, cfg.rooms.max(1)).await?;
    fill(api, &stages, run_id, cfg).await
}

/// The audience in one private rehearsal, let in with its key (`cfg.rooms` is not
/// used): needs no host account, only the key the host handed over.
pub async fn rehearse(api: &Api, rehearsal: &Rehearsal, run_id: &str, cfg: &Audience) -> Result<AudienceReport, Error> {
    let stage = Stage { room: rehearsal.room, audience_key: Some(rehearsal.audience_key.clone()) };
    fill(api, &[stage], run_id, cfg).await
}

async fn fill(api: &Api, rooms: &[Stage], run_id: &str, cfg: &Audience) -> Result<AudienceReport, Error> {
    let start = Instant::now();
    let tally = Arc::new(Mutex::new(AudienceReport::default()));
    let comment_latency = Arc::new(Mutex::new(histogram()));
    let join_latency = Arc::new(Mutex::new(histogram()));
    let bar = progress(cfg.viewers as u64, "audience", cfg.quiet);
    let stop_at = start + Duration::from_secs_f64(cfg.ramp_secs) + Duration::from_secs(cfg.seconds);
    let mut per_room = vec![0usize; rooms.len()];
    let mut tasks = Vec::new();
    let mut rng = rand::thread_rng();
    let (stop_sampling, stopped) = tokio::sync::oneshot::channel();
    let sampler = cfg.server_pid.map(|pid| tokio::spawn(sample_memory(pid, start, stopped)));
    for i in 0..cfg.viewers {
        let r = pick_room(rooms.len(), &mut rng);
        per_room[r] += 1;
        let roll = share_position(i);
        let behaviour = if roll < cfg.chatters {
            Behaviour::Chatter
        } else if roll < cfg.chatters + cfg.reactors {
            Behaviour::Reactor
        } else if roll < cfg.chatters + cfg.reactors + cfg.shoppers {
            Behaviour::Shopper
        } else {
            Behaviour::Lurker
        };
        let churns = rng.r#gen::<f64>() < cfg.churn;
        let buys = rng.r#gen::<f64>() < cfg.buy_probability;
        let delay = Duration::from_secs_f64(cfg.ramp_secs * i as f64 / cfg.viewers.max(1) as f64);
        let room = rooms[r].clone();
        let (api, tally, comment_latency, join_latency, bar) =
            (api.clone(), Arc::clone(&tally), Arc::clone(&comment_latency), Arc::clone(&join_latency), bar.clone());
        let run_id = run_id.to_owned();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let outcome = viewer(
                &api,
                &room,
                behaviour,
                churns,
                buys,
                &run_id,
                i,
                start,
                stop_at,
                &tally,
                &comment_latency,
                &join_latency,
            )
            .await;
            if let Err(e) = outcome {
                let mut t = tally.lock().await;
                t.connection_failures += 1;
                *t.errors.entry(format!("connection: {e}").chars().take(60).collect()).or_default() += 1;
            }
            bar.inc(1);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    bar.finish_and_clear();
    let mut memory = Vec::new();
    if let (Some(sampler), Some(pid)) = (sampler, cfg.server_pid) {
        let _ = stop_sampling.send(());
        memory = sampler.await.unwrap_or_default();
        tokio::time::sleep(SETTLE).await;
        if let Some(u) = usage(pid) {
            memory.push(MemorySample { second: start.elapsed().as_secs(), rss_kib: u.rss_kib });
        }
    }
    let mut report = std::mem::take(&mut *tally.lock().await);
    report.memory = memory;
    report.viewers = cfg.viewers;
    report.rooms = rooms.len();
    report.viewers_per_room = per_room;
    report.comment_latency = Latency::of(&*comment_latency.lock().await);
    report.join_latency = Latency::of(&*join_latency.lock().await);
    Ok(report)
}

/// Samples the server's memory every [`MEMORY_EVERY`] until told to stop.
async fn sample_memory(pid: u32, start: Instant, mut stop: tokio::sync::oneshot::Receiver<()>) -> Vec<MemorySample> {
    let mut samples = Vec::new();
    let mut every = tokio::time::interval(MEMORY_EVERY);
    loop {
        tokio::select! {
            _ = &mut stop => return samples,
            _ = every.tick() => {}
        }
        match usage(pid) {
            Some(u) => samples.push(MemorySample { second: start.elapsed().as_secs(), rss_kib: u.rss_kib }),
            None => return samples,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn viewer(
    api: &Api,
    stage: &Stage,
    behaviour: Behaviour,
    churns: bool,
    buys: bool,
    run_id: &str,
    n: usize,
    start: Instant,
    stop_at: Instant,
    tally: &Mutex<AudienceReport>,
    comment_latency: &Mutex<hdrhistogram::Histogram<u64>>,
    join_latency: &Mutex<hdrhistogram::Histogram<u64>>,
) -> Result<(), Error> {
    let account = match behaviour {
        Behaviour::Shopper => Some(api.register_viewer(run_id, n).await?),
        _ => None,
    };
    let token = account.as_ref().map(|a| a.token.as_str());
    let joined_at = Instant::now();
    let mut conn = RoomConn::connect(api).await?;
    let key = stage.audience_key.as_deref();
    let snapshot = conn.join(stage.room, token, &format!("Aud {n}"), key).await?;
    // What a shopper buys: the first lined-up product, as the room shows it.
    let product = snapshot.lineup.first().map(|p| p.id);
    record(&mut *join_latency.lock().await, joined_at.elapsed());
    tally.lock().await.joined += 1;
    let (mut seq, epoch) = (snapshot.seq, snapshot.epoch.clone());
    let churn_at = churns.then(|| Instant::now() + (stop_at - Instant::now()) / 2);
    let mut churned = false;
    let mut act = tokio::time::interval(Duration::from_millis(match behaviour {
        Behaviour::Chatter => 2_000,
        Behaviour::Reactor => 500,
        _ => 3_000,
    }));
    let mut shopped = false;
    loop {
        if Instant::now() >= stop_at {
            break;
        }
        if churn_at.is_some_and(|at| !churned && Instant::now() >= at) {
            churned = true;
            conn.close().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            conn = RoomConn::connect(api).await?;
            conn.send(&ClientMsg::Join {
                room_id: stage.room,
                token: token.map(str::to_owned),
                guest_name: token.is_none().then(|| "Back".try_into()).transpose()?,
                since: Some(seq),
                epoch: Some(epoch.clone()),
                audience_key: key.map(str::to_owned),
            })
            .await?;
        }
        let msg = tokio::select! {
            _ = act.tick() => {
                match behaviour {
                    Behaviour::Chatter => {
                        let text = format!("au {} {}", n, start.elapsed().as_micros());
                        conn.send(&ClientMsg::Comment { text: text.as_str().try_into()? }).await?;
                        tally.lock().await.comments_sent += 1;
                    }
                    Behaviour::Reactor => {
                        conn.send(&ClientMsg::React { reaction: Reaction::Heart }).await?;
                        tally.lock().await.reactions_sent += 1;
                    }
                    Behaviour::Shopper if !shopped => {
                        shopped = true;
                        if let Some(product_id) = product {
                            conn.send(&ClientMsg::CartAdd { product_id, quantity: 1 }).await?;
                            if buys {
                                let key = format!("{run_id}-aud-{n}");
                                conn.send(&test_card_checkout(key)?).await?;
                            }
                        }
                    }
                    _ => {}
                }
                continue;
            }
            msg = conn.recv() => msg?,
            _ = tokio::time::sleep_until(stop_at.into()) => break,
        };
        let Some(msg) = msg else { break };
        let mut t = tally.lock().await;
        match msg {
            ServerMsg::Event { seq: s, event } => {
                if s != seq + 1 && s > seq {
                    t.gaps += 1;
                }
                seq = seq.max(s);
                let sent_us = match &event {
                    RoomEvent::Comment(c) => {
                        c.text.strip_prefix("au ").and_then(|r| r.split(' ').nth(1)).and_then(|v| v.parse::<u64>().ok())
                    }
                    _ => None,
                };
                if let Some(us) = sent_us {
                    t.comments_received += 1;
                    drop(t);
                    let latency = start.elapsed().saturating_sub(Duration::from_micros(us));
                    record(&mut *comment_latency.lock().await, latency);
                }
            }
            ServerMsg::Resumed { .. } => t.resumed += 1,
            ServerMsg::Snapshot(s) => {
                if s.reset {
                    t.reset_snapshots += 1;
                }
                seq = s.seq;
            }
            ServerMsg::OrderConfirmed { order } => {
                *t.checkouts.entry("paid".into()).or_default() += 1;
                t.rehearsal_orders += u64::from(order.rehearsal);
            }
            ServerMsg::Error { code, request, .. } => {
                if request.as_deref() == Some("checkout") {
                    *t.checkouts.entry(code).or_default() += 1;
                } else {
                    *t.errors.entry(code).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::share_position;

    #[test]
    fn every_share_of_an_audience_gets_its_proportion_within_three_viewers() {
        for viewers in 1..=2_000usize {
            for (from, to) in [(0.0, 0.2), (0.2, 0.4), (0.4, 1.0), (0.0, 0.05)] {
                let got = (0..viewers).filter(|&i| (from..to).contains(&share_position(i))).count() as f64;
                let want = viewers as f64 * (to - from);
                assert!((got - want).abs() <= 3.0, "{viewers} viewers, share {from}..{to}: {got}, want {want}");
            }
        }
    }
}
