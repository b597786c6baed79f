//! A card's wallet pass, for staff (support, debugging) and, later, the customer's download link.

use std::sync::Arc;

use super::Actor;
use super::cards::find_card;
use crate::db::{Db, blocking, repo};
use crate::error::{AppError, AppResult};
use crate::wallet::AppleWallet;
use crate::wallet::apple::{self, PassInput};

/// The signed `.pkpass` of the card named by number, barcode or id.
pub async fn apple_pass(
    db: &Db,
    wallet: Arc<AppleWallet>,
    actor: &Actor,
    reference: String,
    public_url: String,
) -> AppResult<Vec<u8>> {
    let program_id = actor.program_id.clone();
    let (card, program, customer) = db
        .read(move |c| {
            let card = find_card(c, &program_id, &reference)?;
            let program = repo::programs::find(c, &program_id)?;
            let customer = repo::customers::find(c, &program_id, &card.customer_id)?;
            Ok((card, program, customer))
        })
        .await?;
    let input = PassInput {
        program_name: program.name.clone(),
        organization: None,
        serial: card.serial.clone(),
        auth_token: card.auth_token.clone(),
        barcode: card.barcode.clone(),
        display_number: crate::domain::card::CardNumber::from_db(card.number.clone()).grouped(),
        balance: card.balance,
        member_first_name: Some(customer.first_name),
        referral_link: card.referral_code.as_ref().map(|code| format!("{public_url}/r/{code}")),
        web_service_url: wallet.web_service_url.clone(),
        pass_type_id: wallet.identity.pass_type_id().to_owned(),
        team_id: wallet.identity.team_id().to_owned(),
    };
    // RSA signing is CPU work: off the async workers.
    blocking(move || {
        apple::render(&wallet.identity, &wallet.design, &input)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering the pass of card {}: {e}", card.id)))
    })
    .await
}
