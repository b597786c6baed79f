DROP TABLE tier_reevaluations;
DROP TABLE tier_rewards;
DROP TABLE tier_history;
DROP TABLE card_tiers;
