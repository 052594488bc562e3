//! Personal-data masking for everything meant for a meeting room: the brief, the charts and the
//! group exports. The store keeps the original text; masking is applied on output only.
//!
//! Masked: mobile and landline numbers, 18/15-digit ID-card numbers, bank-card numbers, e-mail
//! addresses, names a writer gives for themselves (`我叫张三`, `本人李四`, `联系人：王五`), and
//! petitioner ids (shortened).

use std::sync::LazyLock;

use regex::Regex;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}").unwrap());
// Any run of 7+ digits (optionally with spaces or dashes inside, and an X checksum for IDs):
// mobiles, landlines with area code, ID cards, bank cards. Short numbers (house numbers, years,
// amounts) stay readable.
static LONG_DIGITS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\+?86[\s\-]?)?\d(?:[\s\-]?\d){6,}[Xx]?").unwrap());
// A name given for oneself or a contact: 2–4 CJK characters after the cue.
static GIVEN_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(我叫|我是|本人叫|本人|姓名[:：]?|联系人[:：]?|署名[:：]?|举报人[:：]?|信访人[:：]?|来信人[:：]?)\s*([\p{Han}]{2,4}?)([，,。.；;、\s（(]|先生|女士|$|电话|手机|身份证|系|是|家住|住|今年|男|女|\d)",
    )
    .unwrap()
});
// Cues whose following word is usually a role, not a name (我是业主, 本人是…): left alone.
const NOT_NAMES: &[&str] = &[
    "业主",
    "居民",
    "村民",
    "家长",
    "学生",
    "市民",
    "职工",
    "员工",
    "农民",
    "老人",
    "一名",
    "一位",
    "一个",
    "这里",
    "该小区",
    "小区",
    "租户",
    "工人",
    "教师",
    "老师",
    "司机",
    "患者",
    "退休",
];

/// Masks personal data in free text.
pub fn mask_text(text: &str) -> String {
    let t = EMAIL.replace_all(text, "[邮箱]");
    let t = LONG_DIGITS.replace_all(&t, |c: &regex::Captures| {
        let s = &c[0];
        let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
        if digits >= 15 {
            "[证件号]".to_string()
        } else {
            "[电话]".to_string()
        }
    });
    GIVEN_NAME
        .replace_all(&t, |c: &regex::Captures| {
            let name = &c[2];
            if NOT_NAMES
                .iter()
                .any(|n| name.starts_with(n) || n.starts_with(name))
            {
                c[0].to_string()
            } else {
                let first: String = name.chars().take(1).collect();
                format!("{}{}某{}", &c[1], first, &c[3])
            }
        })
        .into_owned()
}

/// Shortens a petitioner id for display: `P000123` → `P0…23`.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 4 {
        return "…".to_string() + &chars.last().map(|c| c.to_string()).unwrap_or_default();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}")
}

/// Applies [`mask_text`] unless `show` is set (the explicit `--show-personal-data` opt-in).
pub fn text_for_output(text: &str, show: bool) -> String {
    if show {
        text.to_string()
    } else {
        mask_text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers_and_names() {
        let t = mask_text("我叫张三丰，电话13812345678，身份证号430102199001011234，邮箱a.b@x.com，座机0731-88886666。");
        assert!(!t.contains("13812345678"), "{t}");
        assert!(!t.contains("430102199001011234"), "{t}");
        assert!(!t.contains("a.b@x.com"), "{t}");
        assert!(!t.contains("88886666"), "{t}");
        assert!(!t.contains("张三丰"), "{t}");
        assert!(t.contains("张某"), "{t}");
    }

    #[test]
    fn keeps_roles_short_numbers_and_ordinary_text() {
        let s = "我是业主，小区3栋2单元，2019年交房，物业费每月120元。";
        assert_eq!(mask_text(s), s);
        let t = mask_text("本人李四，家住丽景花园");
        assert!(!t.contains("李四"), "{t}");
    }

    #[test]
    fn bank_card_and_spaced_numbers() {
        let t = mask_text("卡号6222 0202 0000 1234 567，手机 138-1234-5678");
        assert!(!t.contains("1234 567"), "{t}");
        assert!(!t.contains("5678"), "{t}");
    }

    #[test]
    fn ids_shortened() {
        assert_eq!(mask_id("P000123"), "P0…23");
        assert!(!mask_id("A00031618").contains("0316"));
    }
}
