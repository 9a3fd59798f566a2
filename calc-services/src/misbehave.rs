//! A service that goes wrong on purpose (`CALC_MISBEHAVE`), to show what the frontends and the
//! console do when one does: a frontend answers that operation with a clear 502 or 504 and the
//! others as usual; a move whose new service answers wrong is caught by the console's verify
//! step and rolled back. Unset, a service behaves.
//!
//! Values: `wrong-answer` (every total off by one), `garbage` (200 with a body that is not an
//! answer), `slow=MS` (every answer that late), `hang` (no answer at all), `die-after=N` (the
//! process exits after N answers), `float` (computes in binary floating point, as the reference
//! app's JavaScript services did: `0.1 + 0.2` is `0.30000000000000004` — a build that drifts from
//! the monolith only on some inputs, which a shadow step exists to find), `fail-percent=N` (N of
//! every 100 answers are a 500, spread evenly).

use std::str::FromStr;
use std::time::Duration;

/// How an operation service misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Every total is one more than it should be.
    WrongAnswer,
    /// 200 OK with a body that is not an answer.
    Garbage,
    /// Every answer this late.
    Slow(Duration),
    /// No answer, ever (the connection stays open).
    Hang,
    /// The process exits after this many answers.
    DieAfter(u64),
    /// Arithmetic in `f64`, answered in its shortest round-trip form.
    Float,
    /// This many of every 100 answers are a 500.
    FailPercent(u8),
}

/// A `CALC_MISBEHAVE` value that is not one of the above.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "CALC_MISBEHAVE={0:?} is not a misbehaviour; use wrong-answer, garbage, slow=MS, hang, die-after=N, float or fail-percent=N (0 to 100), or leave it unset"
)]
pub struct MisbehaveError(pub String);

impl FromStr for Misbehaviour {
    type Err = MisbehaveError;

    fn from_str(text: &str) -> Result<Misbehaviour, MisbehaveError> {
        let bad = || MisbehaveError(text.to_owned());
        let number = |value: &str| value.trim().parse::<u64>().map_err(|_| bad());
        match text.trim().split_once('=') {
            None => match text.trim() {
                "wrong-answer" => Ok(Misbehaviour::WrongAnswer),
                "garbage" => Ok(Misbehaviour::Garbage),
                "hang" => Ok(Misbehaviour::Hang),
                "float" => Ok(Misbehaviour::Float),
                _ => Err(bad()),
            },
            Some(("slow", ms)) => Ok(Misbehaviour::Slow(Duration::from_millis(number(ms)?))),
            Some(("die-after", n)) => Ok(Misbehaviour::DieAfter(number(n)?)),
            Some(("fail-percent", n)) => u8::try_from(number(n)?)
                .ok()
                .filter(|n| *n <= 100)
                .map(Misbehaviour::FailPercent)
                .ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_misbehaviour_and_names_the_choices_otherwise() {
        assert_eq!("wrong-answer".parse(), Ok(Misbehaviour::WrongAnswer));
        assert_eq!(" garbage ".parse(), Ok(Misbehaviour::Garbage));
        assert_eq!("hang".parse(), Ok(Misbehaviour::Hang));
        assert_eq!(
            "slow=250".parse(),
            Ok(Misbehaviour::Slow(Duration::from_millis(250)))
        );
        assert_eq!("die-after=3".parse(), Ok(Misbehaviour::DieAfter(3)));
        assert_eq!("float".parse(), Ok(Misbehaviour::Float));
        assert_eq!("fail-percent=5".parse(), Ok(Misbehaviour::FailPercent(5)));
        for bad in [
            "",
            "slow",
            "slow=fast",
            "die-after=-1",
            "explode",
            "hang=1",
            "fail-percent=101",
            "float=1",
        ] {
            let error = bad.parse::<Misbehaviour>().unwrap_err().to_string();
            assert!(
                error.contains("use wrong-answer, garbage"),
                "{bad}: {error}"
            );
        }
    }
}
