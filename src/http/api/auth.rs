use actix_web::web;
use serde::Deserialize;

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::JsonBody;
use crate::service::auth::{self, AuthKeys, LoginResponse};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

pub async fn login(
    db: web::Data<Db>,
    keys: web::Data<AuthKeys>,
    body: JsonBody<Login>,
) -> AppResult<web::Json<LoginResponse>> {
    let JsonBody(Login { email, password }) = body;
    auth::login(&db, &keys, &email, password).await.map(web::Json)
}
