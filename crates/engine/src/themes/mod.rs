//! The catalogue: one file per theme, each with its reference semantics (audit-themes.md).

use crate::theme::Theme;

/// Implements the descriptive part of [`Theme`] from one line per item.
macro_rules! describe {
    (
        code: $code:expr, zh: $zh:expr, en: $en:expr, specialty: $sp:ident, entity: $en_ty:ident,
        severity: $sev:ident, params: $params:expr, needs: $needs:expr $(,)?
    ) => {
        fn code(&self) -> &'static str {
            $code
        }
        fn name_zh(&self) -> &'static str {
            $zh
        }
        fn name_en(&self) -> &'static str {
            $en
        }
        fn specialty(&self) -> $crate::theme::Specialty {
            $crate::theme::Specialty::$sp
        }
        fn entity(&self) -> $crate::finding::EntityType {
            $crate::finding::EntityType::$en_ty
        }
        fn severity(&self) -> $crate::finding::Severity {
            $crate::finding::Severity::$sev
        }
        fn params(&self) -> &'static [$crate::theme::Param] {
            const THEME_PARAMS: &[$crate::theme::Param] = $params;
            THEME_PARAMS
        }
        fn needs(&self) -> &'static [$crate::theme::Need] {
            const THEME_NEEDS: &[$crate::theme::Need] = $needs;
            THEME_NEEDS
        }
    };
}

pub mod archive;
pub mod biz;
pub mod common;
pub mod daily;
pub mod fee;
pub mod loss_feeder;
pub mod loss_tq;
pub mod mtr;
pub mod prc_bill;
pub mod svc_hours;
pub mod svc_repeat;
pub mod theft;
pub mod vol_customer;
pub mod vol_missing;
pub mod vol_overcap;
pub mod vol_reverse;
pub mod vol_tou;

/// Every theme, in catalogue order.
pub fn registry() -> &'static [&'static dyn Theme] {
    &[
        &vol_customer::VolZero,
        &vol_customer::VolDrop,
        &vol_customer::VolSurge,
        &vol_reverse::VolReverse,
        &vol_overcap::VolOvercap,
        &vol_missing::VolMissing,
        &vol_tou::VolTou,
        &prc_bill::PrcCategory,
        &prc_bill::PrcBill,
        &prc_bill::PrcKwh,
        &prc_bill::PrcBasic,
        &prc_bill::PrcPf,
        &fee::FeeArrears,
        &fee::FeeRecovery,
        &loss_tq::LossTqHigh,
        &loss_tq::LossTqNeg,
        &loss_feeder::LossFeederHigh,
        &theft::LossTheft,
        &mtr::MtrOverdue,
        &mtr::MtrMultiplier,
        &mtr::MtrSeal,
        &biz::BizOvertime,
        &biz::BizBacklog,
        &biz::BizArchive,
        &biz::BizFee,
        &archive::TmpOverdue,
        &archive::ArcTopology,
        &archive::ArcInfo,
        &svc_repeat::SvcRepeat,
        &svc_hours::SvcHours,
        &daily::DayLargeDrop,
        &daily::DaySupply,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_params_named() {
        let mut codes: Vec<&str> = registry().iter().map(|t| t.code()).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n);
        for t in registry() {
            assert!(!t.needs().is_empty(), "{} reads something", t.code());
        }
    }
}
