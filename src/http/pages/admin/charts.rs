//! Charts drawn on the server as SVG shapes (no JavaScript needed to read them): the geometry
//! is computed here, the template only writes the shapes out (`_macros.html`, `chart`). Each
//! chart has its numbers in a table under it on the page.

use serde::Serialize;

const WIDTH: i64 = 640;
const HEIGHT: i64 = 220;
const LEFT: i64 = 56;
const TOP: i64 = 10;
const BOTTOM: i64 = 30;

#[derive(Debug, Serialize)]
pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub bars: Vec<Bar>,
    pub lines: Vec<Line>,
    pub x_labels: Vec<Label>,
    pub y_ticks: Vec<Label>,
    /// The series, in order: their CSS class (colour) and their key (the legend's label).
    pub series: Vec<&'static str>,
    pub baseline: i64,
}

#[derive(Debug, Serialize)]
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    pub series: &'static str,
    pub label: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct Line {
    pub series: &'static str,
    /// `x,y x,y …` for a polyline; a period without a value breaks nothing: it is left out.
    pub points: String,
    /// A dot per value, so that a period alone (its neighbours without a value) still shows.
    pub dots: Vec<Label>,
}

#[derive(Debug, Serialize)]
pub struct Label {
    pub x: i64,
    pub y: i64,
    pub text: String,
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `v` (at least 1): the top of the axis.
fn nice_ceiling(v: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= v {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn frame(labels: &[String], series: Vec<&'static str>) -> (Chart, i64) {
    let plot_w = WIDTH - LEFT - 10;
    let n = i64::try_from(labels.len().max(1)).unwrap_or(1);
    let slot = plot_w / n;
    let every = usize::try_from((n + 11) / 12).unwrap_or(1).max(1);
    let x_labels = labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, text)| Label {
            x: LEFT + slot * i64::try_from(i).unwrap_or(0) + slot / 2,
            y: HEIGHT - 10,
            text: text.clone(),
        })
        .collect();
    let chart = Chart {
        width: WIDTH,
        height: HEIGHT,
        bars: Vec::new(),
        lines: Vec::new(),
        x_labels,
        y_ticks: Vec::new(),
        series,
        baseline: HEIGHT - BOTTOM,
    };
    (chart, slot)
}

fn y_of(value: i64, top: i64) -> i64 {
    let plot_h = HEIGHT - TOP - BOTTOM;
    HEIGHT - BOTTOM - value.clamp(0, top) * plot_h / top.max(1)
}

/// Bars side by side per period, one per series.
pub fn bars(labels: &[String], series: &[(&'static str, Vec<i64>)]) -> Chart {
    let (mut chart, slot) = frame(labels, series.iter().map(|s| s.0).collect());
    let top = nice_ceiling(series.iter().flat_map(|s| s.1.iter().copied()).max().unwrap_or(0));
    let k = i64::try_from(series.len().max(1)).unwrap_or(1);
    let w = ((slot - 4) / k).max(1);
    for (i, label) in labels.iter().enumerate() {
        let i = i64::try_from(i).unwrap_or(0);
        for (j, (name, values)) in series.iter().enumerate() {
            let value = values.get(usize::try_from(i).unwrap_or(0)).copied().unwrap_or(0);
            let y = y_of(value, top);
            chart.bars.push(Bar {
                x: LEFT + slot * i + 2 + w * i64::try_from(j).unwrap_or(0),
                y,
                w,
                h: chart.baseline - y,
                series: name,
                label: label.clone(),
                value: value.to_string(),
            });
        }
    }
    chart.y_ticks =
        [0, top / 2, top].iter().map(|&v| Label { x: LEFT - 6, y: y_of(v, top), text: v.to_string() }).collect();
    chart
}

/// Lines of rates (0 to 1) across the periods, drawn as percentages.
pub fn rates(labels: &[String], series: &[(&'static str, Vec<Option<f64>>)]) -> Chart {
    let (mut chart, slot) = frame(labels, series.iter().map(|s| s.0).collect());
    for (name, values) in series {
        let dots: Vec<Label> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                // A rate has 4 decimals: in basis points it is a whole number (no float cast).
                let basis = format!("{:.0}", (*v)? * 10_000.0).parse::<i64>().ok()?;
                let x = LEFT + slot * i64::try_from(i).ok()? + slot / 2;
                Some(Label { x, y: y_of(basis, 10_000), text: format!("{:.1} %", (*v)? * 100.0) })
            })
            .collect();
        let points = dots.iter().map(|d| format!("{},{}", d.x, d.y)).collect::<Vec<_>>().join(" ");
        chart.lines.push(Line { series: name, points, dots });
    }
    chart.y_ticks =
        [0, 50, 100].iter().map(|&p| Label { x: LEFT - 6, y: y_of(p * 100, 10_000), text: format!("{p} %") }).collect();
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_tops_at_a_round_number_and_bars_scale_to_it() {
        assert_eq!((nice_ceiling(0), nice_ceiling(3), nice_ceiling(11), nice_ceiling(180)), (1, 5, 20, 200));
        let chart = bars(&["a".into(), "b".into()], &[("new", vec![50, 100])]);
        assert_eq!(chart.bars.len(), 2);
        assert_eq!(chart.bars[1].y, TOP, "the biggest bar reaches the top");
        assert_eq!(chart.bars[0].h * 2, chart.bars[1].h);
        assert_eq!(chart.y_ticks.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["0", "50", "100"]);
    }

    #[test]
    fn a_rate_line_skips_periods_without_a_value() {
        let chart = rates(&["a".into(), "b".into(), "c".into()], &[("retention", vec![Some(1.0), None, Some(0.5)])]);
        assert_eq!(chart.lines[0].points.split(' ').count(), 2);
        assert!(chart.lines[0].points.starts_with(&format!("{},{TOP}", LEFT + 574 / 3 / 2)));
    }
}
