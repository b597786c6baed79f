//! The expected figures, by the definitions.

use super::*;

// ---------------------------------------------------------------------------------------------
// The figures, by the definitions, from the rows above.

/// What a request asks: a granularity and a range, perhaps a shop; and the point's value set.
#[derive(Clone, Copy)]
pub(super) struct Ask {
    pub(super) granularity: &'static str,
    pub(super) from: NaiveDate,
    pub(super) to: NaiveDate,
    pub(super) location: Option<usize>,
    pub(super) point_value: Option<i64>,
}

impl Ask {
    pub(super) fn months(from: &str, to: &str) -> Ask {
        Ask { granularity: "month", from: day(from), to: day(to), location: None, point_value: None }
    }

    pub(super) fn weeks(from: &str, to: &str) -> Ask {
        Ask { granularity: "week", ..Ask::months(from, to) }
    }

    pub(super) fn query(&self, shops: &[String; 2]) -> String {
        let mut q = format!("from={}&to={}&granularity={}", self.from, self.to, self.granularity);
        if let Some(l) = self.location {
            q.push_str(&format!("&location={}", shops[l]));
        }
        q
    }

    pub(super) fn step(&self, start: NaiveDate, forward: bool) -> NaiveDate {
        match (self.granularity, forward) {
            ("week", true) => start + Duration::days(7),
            ("week", false) => start - Duration::days(7),
            (_, true) => start + Months::new(1),
            (_, false) => start - Months::new(1),
        }
    }

    /// The whole periods covering `from..=to`: (first day, first day of the next).
    pub(super) fn periods(&self) -> Vec<(NaiveDate, NaiveDate)> {
        let mut start = if self.granularity == "week" {
            self.from - Duration::days(i64::from(self.from.weekday().num_days_from_monday()))
        } else {
            self.from.with_day(1).unwrap()
        };
        let mut out = Vec::new();
        while start <= self.to {
            let end = self.step(start, true);
            out.push((start, end));
            start = end;
        }
        out
    }

    pub(super) fn at_shop(&self, s: &Sale) -> bool {
        self.location.is_none_or(|l| s.location == Some(l))
    }
}

/// `num ÷ den` to 4 decimals, halves up, as a JSON number; null without a divisor.
pub(super) fn rate(num: i64, den: i64) -> Value {
    if den == 0 {
        return Value::Null;
    }
    let scaled = num * 10_000;
    let mut basis = scaled / den;
    if (scaled % den) * 2 >= den {
        basis += 1;
    }
    json!(f64::from(i32::try_from(basis).unwrap()) / 10_000.0)
}

/// `num ÷ den` to the cent, halves up; null without a (positive) divisor.
pub(super) fn cents(num: i64, den: i64) -> Value {
    if den <= 0 {
        return Value::Null;
    }
    let mut q = num / den;
    if (num % den) * 2 >= den {
        q += 1;
    }
    json!(q)
}

impl World {
    /// The purchases (not wholly returned) in `from..to`, at the asked shop.
    pub(super) fn bought(&self, ask: &Ask, from: NaiveDateTime, to: NaiveDateTime) -> Vec<&Sale> {
        self.sales.iter().filter(|s| s.returned < s.amount && from <= s.at && s.at < to && ask.at_shop(s)).collect()
    }

    pub(super) fn buyers(&self, ask: &Ask, from: NaiveDateTime, to: NaiveDateTime) -> HashSet<usize> {
        self.bought(ask, from, to).iter().map(|s| s.card).collect()
    }

    /// The tills' rows of the local days `first..end`, at the asked shop.
    pub(super) fn totals_of(&self, ask: &Ask, first: NaiveDate, end: NaiveDate) -> Vec<&Totals> {
        self.totals
            .iter()
            .filter(|t| first <= t.day && t.day < end && ask.location.is_none_or(|l| t.location == l))
            .collect()
    }

    /// The purchases among `sales` made at a shop on a local day its till reported.
    pub(super) fn on_reported_days<'a>(&self, sales: &[&'a Sale]) -> Vec<&'a Sale> {
        let reported: HashSet<(usize, NaiveDate)> = self.totals.iter().map(|t| (t.location, t.day)).collect();
        sales.iter().copied().filter(|s| s.location.is_some_and(|l| reported.contains(&(l, local_day(s.at))))).collect()
    }

    /// Σ of the gains (`sign` 1) or the losses (−1, made positive) of `kinds` in `from..to`.
    pub(super) fn points(&self, kinds: &[&str], sign: i64, from: NaiveDateTime, to: NaiveDateTime) -> i64 {
        self.moves
            .iter()
            .filter(|m| from <= m.at && m.at < to && kinds.contains(&m.kind) && m.delta * sign > 0)
            .map(|m| m.delta * sign)
            .sum()
    }

    /// One span's figures: local days `start..end`; `previous`, the first day of the period
    /// before (none for the whole range).
    pub(super) fn figures(
        &self,
        ask: &Ask,
        start: NaiveDate,
        end: NaiveDate,
        previous: Option<NaiveDate>,
    ) -> Map<String, Value> {
        let (from, to) = (midnight(start), midnight(end));
        let window = midnight(end - Months::new(12));
        let within = |at: NaiveDateTime| from <= at && at < to;
        let mut f = Map::new();
        let mut put = |key: &str, value: Value| {
            f.insert(key.to_owned(), value);
        };
        put("start", json!(start.to_string()));
        put("end", json!((end - Duration::days(1)).to_string()));

        // Members.
        let on_roll = self.members.iter().filter(|m| m.created < to && m.erased.is_none_or(|e| e >= to)).count();
        let new: Vec<usize> = (0..self.members.len()).filter(|&i| within(self.members[i].created)).collect();
        let referred: HashSet<usize> =
            self.referrals.iter().filter(|r| r.status != "rejected").map(|r| r.referee).collect();
        let new_referred = new.iter().filter(|i| referred.contains(i)).count();
        put("members_total", json!(on_roll));
        put("new_members", json!(new.len()));

        // Sales.
        let sales = self.bought(ask, from, to);
        let active: HashSet<usize> = sales.iter().map(|s| s.card).collect();
        put("active_members", json!(active.len()));
        put("purchases", json!(sales.len()));
        put("member_revenue_cents", json!(sales.iter().map(|s| net(s)).sum::<i64>()));
        let rows = self.totals_of(ask, start, end);
        let reported = self.on_reported_days(&sales);
        if rows.is_empty() {
            for key in ["sales_transactions", "sales_revenue_cents", "card_transactions_reported", "enrolment_rate"] {
                put(key, Value::Null);
            }
        } else {
            let transactions: i64 = rows.iter().map(|t| t.transactions).sum();
            put("sales_transactions", json!(transactions));
            put("sales_revenue_cents", json!(rows.iter().map(|t| t.revenue).sum::<i64>()));
            put("card_transactions_reported", json!(reported.len()));
            put("enrolment_rate", rate(count(reported.len()), transactions));
        }
        let retention = previous.map_or(Value::Null, |p| {
            let before = self.buyers(ask, midnight(p), from);
            rate(count(before.iter().filter(|c| active.contains(c)).count()), count(before.len()))
        });
        put("retention_rate", retention);
        let mut per_card: HashMap<usize, i64> = HashMap::new();
        for s in self.bought(ask, window, to) {
            *per_card.entry(s.card).or_default() += 1;
        }
        put("repurchase_rate", rate(count(per_card.values().filter(|&&n| n >= 2).count()), count(per_card.len())));

        // Referrals.
        put("new_members_referred", json!(new_referred));
        put("recommendation_rate", rate(count(new_referred), count(new.len())));
        let started: Vec<&Referral> =
            self.referrals.iter().filter(|r| r.status != "rejected" && within(r.at)).collect();
        let converted = started.iter().filter(|r| matches!(r.status, "rewarded" | "clawed_back")).count();
        put("referrals_started", json!(started.len()));
        put("referrals_converted", json!(converted));
        put("referral_conversion_rate", rate(count(converted), count(started.len())));

        // Points.
        let issued = self.points(&ISSUED, 1, from, to);
        let redeemed = self.points(&REDEEMED, -1, from, to);
        let held: i64 = self.moves.iter().filter(|m| m.at < to).map(|m| m.delta).sum();
        put("points_issued", json!(issued));
        put("points_redeemed", json!(redeemed));
        put("points_expired", json!(self.points(&["expire"], -1, from, to)));
        put("redemption_rate", rate(redeemed, issued));
        put("points_held", json!(held));
        put("liability_cents", ask.point_value.map_or(Value::Null, |c| json!(held * c)));
        put("breakage_rate", rate(self.points(&["expire"], -1, window, to), self.points(&ISSUED, 1, window, to)));

        // Vouchers and promo codes.
        let face = |v: &Voucher| if v.kind == "amount_off_cents" { v.value.unwrap_or(0) } else { 0 };
        let issued: Vec<&Voucher> =
            self.vouchers.iter().filter(|v| v.state != "cancelled" && within(v.created)).collect();
        let used: Vec<&Voucher> =
            self.vouchers.iter().filter(|v| v.state == "used" && v.used.is_some_and(within)).collect();
        let expired: Vec<&Voucher> =
            self.vouchers.iter().filter(|v| v.state == "expired" && within(v.expires)).collect();
        put("vouchers_issued", json!(issued.len()));
        put("vouchers_issued_value_cents", json!(issued.iter().map(|v| face(v)).sum::<i64>()));
        put("vouchers_used", json!(used.len()));
        put("vouchers_used_value_cents", json!(used.iter().map(|v| v.discount.unwrap_or(0)).sum::<i64>()));
        put("vouchers_expired", json!(expired.len()));
        put("vouchers_expired_value_cents", json!(expired.iter().map(|v| face(v)).sum::<i64>()));
        let promo: i64 = self.promos.iter().filter(|u| u.applied && within(u.at)).map(|u| u.discount).sum();
        put("promo_discount_cents", json!(promo));
        f
    }

    /// The ROI panel over the whole range `start..end`.
    pub(super) fn roi(&self, ask: &Ask, start: NaiveDate, end: NaiveDate) -> Map<String, Value> {
        let (from, to) = (midnight(start), midnight(end));
        let within = |at: NaiveDateTime| from <= at && at < to;
        let mut r = Map::new();
        let mut put = |key: &str, value: Value| {
            r.insert(key.to_owned(), value);
        };
        let sales = self.bought(ask, from, to);
        let revenue: i64 = sales.iter().map(|s| net(s)).sum();
        put("member_revenue_cents", json!(revenue));
        put("member_purchases", json!(sales.len()));
        put("member_basket_cents", cents(revenue, count(sales.len())));
        let rows = self.totals_of(ask, start, end);
        if rows.is_empty() {
            for key in
                ["sales_transactions", "sales_revenue_cents", "all_sales_basket_cents", "non_member_basket_cents"]
            {
                put(key, Value::Null);
            }
        } else {
            let transactions: i64 = rows.iter().map(|t| t.transactions).sum();
            let till_revenue: i64 = rows.iter().map(|t| t.revenue).sum();
            let card = self.on_reported_days(&sales);
            let card_revenue: i64 = card.iter().map(|s| net(s)).sum();
            put("sales_transactions", json!(transactions));
            put("sales_revenue_cents", json!(till_revenue));
            put("all_sales_basket_cents", cents(till_revenue, transactions));
            put("non_member_basket_cents", cents(till_revenue - card_revenue, transactions - count(card.len())));
        }

        // The members who enrolled in the range at least 180 days before its end, and their
        // purchases in their first 90 days and in the 90 after.
        let (ninety, cohort_end) = (Duration::days(90), to - Duration::days(180));
        let cohort: Vec<usize> = (0..self.members.len())
            .filter(|&i| from <= self.members[i].created && self.members[i].created <= cohort_end)
            .collect();
        let (mut first, mut next) = (0, 0);
        for &i in &cohort {
            let enrolled = self.members[i].created;
            for s in self.sales.iter().filter(|s| s.card == i && s.returned < s.amount && ask.at_shop(s)) {
                if enrolled <= s.at && s.at < enrolled + ninety {
                    first += 1;
                } else if enrolled + ninety <= s.at && s.at < enrolled + ninety + ninety {
                    next += 1;
                }
            }
        }
        put("cohort_members", json!(cohort.len()));
        put("purchases_first_90_days", json!(first));
        put("purchases_next_90_days", json!(next));
        put("per_member_first_90_days", rate(first, count(cohort.len())));
        put("per_member_next_90_days", rate(next, count(cohort.len())));

        // The programme's cost: promo discounts, voucher discounts, referral points at their value.
        let promo: i64 = self.promos.iter().filter(|u| u.applied && within(u.at)).map(|u| u.discount).sum();
        let vouchers: i64 = self
            .vouchers
            .iter()
            .filter(|v| v.state == "used" && v.used.is_some_and(within))
            .map(|v| v.discount.unwrap_or(0))
            .sum();
        let referral_points: i64 = self
            .moves
            .iter()
            .filter(|m| within(m.at) && matches!(m.kind, "referral" | "referral_clawback"))
            .map(|m| m.delta)
            .sum();
        let value = ask.point_value.map(|c| referral_points * c);
        let cost = promo + vouchers + value.unwrap_or(0);
        put("promo_discount_cents", json!(promo));
        put("voucher_discount_cents", json!(vouchers));
        put("referral_points", json!(referral_points));
        put("referral_points_value_cents", json!(value));
        put("cost_cents", json!(cost));
        put("cost_share_of_revenue", rate(cost, revenue));
        r
    }

    /// The whole answer, by the definitions.
    pub(super) fn expected(&self, ask: &Ask, shops: &[String; 2]) -> Value {
        let list = ask.periods();
        let (first, end) = (list[0].0, list[list.len() - 1].1);
        let periods: Vec<Value> = list
            .iter()
            .map(|&(start, end)| Value::Object(self.figures(ask, start, end, Some(ask.step(start, false)))))
            .collect();
        let totals = self.figures(ask, first, end, None);
        let point_value = ask.point_value.map(|c| json!({"cents": c, "per_points": 1, "source": "setting"}));
        json!({
            "from": first.to_string(),
            "to": (end - Duration::days(1)).to_string(),
            "granularity": ask.granularity,
            "location_id": ask.location.map(|l| shops[l].clone()),
            "currency": "EUR",
            "time_zone": "Europe/Paris",
            "point_value": point_value,
            "sales_totals_reported": !totals["sales_transactions"].is_null(),
            "periods": periods,
            "totals": totals,
            "roi": self.roi(ask, first, end),
        })
    }
}
