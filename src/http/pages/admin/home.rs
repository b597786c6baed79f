//! The console's home page: today's and this month's figures, and what needs attention.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use super::{Console, console};
use crate::http::pages::Page;

pub async fn page(page: Page) -> HttpResponse {
    console(page, |c: Console| async move {
        let home = crate::service::dashboard::home(&c.page.deps, &c.actor).await?;
        c.render(StatusCode::OK, "pages/admin/home.html", "home", serde_json::json!({"home": home}))
    })
    .await
}
