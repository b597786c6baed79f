use actix_web::{HttpRequest, web};
use serde::Deserialize;

use crate::context::AppContext;
use crate::db::Db;
use crate::domain::text::NewPassword;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::auth::{self, AuthKeys, LoginResponse};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

pub async fn login(
    req: HttpRequest,
    db: web::Data<Db>,
    keys: web::Data<AuthKeys>,
    body: JsonBody<Login>,
) -> AppResult<web::Json<LoginResponse>> {
    let JsonBody(Login { email, password }) = body;
    let client = crate::http::client::address(&req);
    auth::login(&db, &keys, &email, password, client.as_deref()).await.map(web::Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    old_password: String,
    new_password: NewPassword,
}

pub async fn change_password(
    db: web::Data<Db>,
    keys: web::Data<AuthKeys>,
    Staff(actor): Staff,
    JsonBody(body): JsonBody<PasswordChange>,
) -> AppResult<web::Json<LoginResponse>> {
    auth::change_password(&db, &keys, &actor, body.old_password, body.new_password).await.map(web::Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    token: String,
    password: NewPassword,
}

pub async fn accept_invitation(
    db: web::Data<Db>,
    keys: web::Data<AuthKeys>,
    deps: web::Data<AppContext>,
    JsonBody(body): JsonBody<Acceptance>,
) -> AppResult<web::Json<LoginResponse>> {
    crate::service::staff::accept_invitation(&db, &keys, &deps.link_key, &body.token, body.password)
        .await
        .map(web::Json)
}
