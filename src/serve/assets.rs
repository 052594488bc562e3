//! The stylesheet and the one small script, built into the binary: the pages load nothing from
//! outside. Names are looked up in a fixed table, so no URL reaches the file system.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::app::PageError;

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("assets/favicon.svg"),
    ),
];

pub async fn asset(
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let found = name
        .ok()
        .and_then(|Path(n)| ASSETS.iter().find(|(a, _, _)| *a == n));
    match found {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                // Built into this binary: a new version is a new server.
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            *body,
        )
            .into_response(),
        None => PageError::NotFound("没有这个文件。".into()).into_response(),
    }
}
