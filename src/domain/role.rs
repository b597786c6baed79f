use serde::{Deserialize, Serialize};

use super::Invalid;

/// Staff roles, ordered by what they may do: an owner may do everything a manager may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Cashier,
    Manager,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "cashier" => Ok(Role::Cashier),
            "manager" => Ok(Role::Manager),
            "owner" => Ok(Role::Owner),
            _ => Err(Invalid::new("role is one of owner, manager, cashier")),
        }
    }
}
