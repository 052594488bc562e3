//! Status: when the last run finished, its counts and rejects, what the pages are showing, and
//! whether a run is writing the folder now.

use axum::extract::State;
use axum::response::Html;

use super::app::{blocking, PageError, Shared};
use super::auth::Reader;
use super::view::chrome;

pub async fn page(State(app): State<Shared>, reader: Reader) -> Result<Html<String>, PageError> {
    blocking(move || {
        let snap = app.snapshot();
        let scoped = !reader.scope.is_unrestricted();
        // A restricted reader learns the size of their own part only.
        let visible = if scoped {
            snap.records
                .iter()
                .filter(|r| reader.scope.admits(r))
                .count()
        } else {
            snap.records.len()
        };
        let html = app.render(
            "status.html",
            minijinja::context! {
                chrome => chrome(&app, &reader, "status"),
                run => snap.run,
                scoped,
                visible,
                groups => app.visible_groups(&snap, &reader.scope).groups.len(),
                indexed => snap.index.as_ref().map(|i| i.num_docs()),
                loaded_at => snap.loaded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                span => snap.span.map(|(a, b)| format!("{a} 至 {b}")),
                rejects => (!scoped && reader.role.sees_analysis()).then_some(&snap.rejects),
                run_dir => reader.role.is_admin().then(|| app.run_dir.display().to_string()),
            },
        )?;
        Ok(Html(html))
    })
    .await
}
