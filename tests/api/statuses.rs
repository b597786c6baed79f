//! The status enums through the suite's backend: what is written reads back as itself, the
//! column's CHECK accepts every status the code knows, and a text the code does not know fails
//! the read, naming it, instead of passing for some status.

use diesel::prelude::*;
use diesel::sql_types::Text;
use encarte::db::repo;
use encarte::domain::status::{CampaignStatus, CardStatus, JobState, ReferralStatus};

use crate::helpers::spawn_app;

#[tokio::test]
async fn statuses_round_trip_through_the_backend_and_unknown_texts_fail_loudly() {
    let app = spawn_app().await;
    let card = app.enrol("statuses@example.fr").await;
    let (program_id, card_id) = (app.staff.program_id.clone(), card["id"].as_str().unwrap().to_owned());
    app.db
        .write(move |c| {
            for &status in CardStatus::ALL {
                let card = repo::cards::set_status(c, &program_id, &card_id, status)?.expect("the card");
                assert_eq!(card.status, status);
                assert_eq!(repo::cards::find(c, &program_id, &card_id)?.expect("the card").status, status);
            }
            fn back<T>(c: &mut encarte::db::DbConn, text: &str) -> QueryResult<T>
            where
                T: diesel::deserialize::FromSqlRow<Text, encarte::db::MultiBackend> + 'static,
            {
                diesel::select(text.into_sql::<Text>()).get_result(c)
            }
            for &s in ReferralStatus::ALL {
                assert_eq!(back::<ReferralStatus>(c, s.as_str())?, s);
            }
            for &s in CampaignStatus::ALL {
                assert_eq!(back::<CampaignStatus>(c, s.as_str())?, s);
            }
            for &s in JobState::ALL {
                assert_eq!(back::<JobState>(c, s.as_str())?, s);
            }
            // As the log shows it (`{:#}`): diesel names the field, its source our message.
            let chain = |e: diesel::result::Error| format!("{:#}", anyhow::Error::from(e));
            let err = chain(back::<CardStatus>(c, "frozen").unwrap_err());
            assert!(err.contains("\"frozen\"") && err.contains("a card status is one of"), "{err}");
            let err = chain(back::<JobState>(c, "Done").unwrap_err());
            assert!(err.contains("\"Done\""), "{err}");
            Ok(())
        })
        .await
        .unwrap();
    app.run_jobs().await;
}
