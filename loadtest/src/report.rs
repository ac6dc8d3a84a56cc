//! The HTML report: charts of throughput and latency over time, drawn as SVG by plotters
//! and embedded in one self-contained page, beside the run's figures as JSON.

use crate::scenario::chat_storm::ChatStormReport;
use plotters::prelude::*;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A named line of (x, y) points in one colour.
type Series<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);

/// One line chart as an SVG string.
fn chart(title: &str, y_label: &str, series: &[Series<'_>]) -> Result<String, Error> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let x_max = series.iter().flat_map(|(_, p, _)| p.iter().map(|(x, _)| *x)).fold(1.0, f64::max);
        let y_max = series.iter().flat_map(|(_, p, _)| p.iter().map(|(_, y)| *y)).fold(1.0, f64::max) * 1.1;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        c.configure_mesh().x_desc("seconds").y_desc(y_label).draw()?;
        for (name, points, color) in series {
            let color = *color;
            c.draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        c.configure_series_labels().border_style(BLACK).background_style(WHITE).draw()?;
        root.present()?;
    }
    Ok(svg)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A page with deliveries per second and p50/p99 latency per second for each named run
/// (one run, or livecart beside its peer).
pub fn chat_storm_html(runs: &[(&str, &ChatStormReport)]) -> Result<String, Error> {
    const COLORS: [RGBColor; 4] =
        [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44), RGBColor(148, 103, 189)];
    let mut throughput = Vec::new();
    let mut latency = Vec::new();
    for (i, (name, r)) in runs.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        throughput.push((*name, r.timeline.iter().map(|s| (s.second as f64, s.deliveries as f64)).collect(), color));
        latency.push((*name, r.timeline.iter().map(|s| (s.second as f64, s.p99_ms)).collect(), color));
    }
    let names: Vec<String> = runs.iter().map(|(n, _)| format!("{n} p99")).collect();
    let latency: Vec<Series<'_>> =
        latency.into_iter().enumerate().map(|(i, (_, p, c))| (names[i].as_str(), p, c)).collect();
    let figures = serde_json::to_string_pretty(&runs.iter().map(|(n, r)| (n, r)).collect::<Vec<_>>())?;
    Ok(format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>livecart load report</title>\
         <body style=\"font-family:sans-serif;max-width:760px;margin:2em auto\"><h1>chat-storm</h1>\
         <h2>Deliveries per second</h2>{}<h2>Comment-to-viewer latency, p99 per second</h2>{}\
         <h2>Figures</h2><pre>{}</pre></body></html>",
        chart("deliveries per second", "deliveries", &throughput)?,
        chart("p99 latency per second", "ms", &latency)?,
        escape(&figures)
    ))
}
