//! A keuzemenu (IVR) run for one call, in virtual time: which prompts to play and where the call
//! goes. The glue plays, feeds digits (RFC 4733 from the relay, or SIP INFO) and the end of each
//! playlist, and asks [`MenuRun::poll`] for the wait after the prompt.
//!
//! Rounds: the prompt plays, then pbxd waits `timeout_secs` for a key. A key with a choice sends
//! the call there at once, also during the prompt (barge-in). A key without a choice plays the
//! invalid-choice prompt and the menu again; silence plays the menu again. After `tries` rounds
//! without a valid key the call goes to `on_timeout`, or ends.

use pbx_model::belplan::{Action, Menu};
use std::time::{Duration, Instant};

/// What the glue does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MenuStep {
    /// Play these prompts, one after the other (replacing what plays).
    Play(Vec<String>),
    /// The call goes here.
    Go(Action),
    /// End the call.
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A playlist is playing.
    Playing,
    /// Waiting for a key until then.
    Waiting(Instant),
    /// Done (a step was taken that ends the run).
    Done,
}

/// One call in one keuzemenu.
#[derive(Clone, Debug)]
pub(crate) struct MenuRun {
    menu: Menu,
    round: u32,
    phase: Phase,
}

impl MenuRun {
    /// Starts the menu: its prompt plays.
    pub(crate) fn start(menu: Menu) -> (MenuRun, MenuStep) {
        let prompt = menu.prompt.clone();
        (
            MenuRun {
                menu,
                round: 1,
                phase: Phase::Playing,
            },
            MenuStep::Play(vec![prompt]),
        )
    }

    /// The menu's name.
    pub(crate) fn name(&self) -> &str {
        &self.menu.name
    }

    /// The playlist ended: wait for a key.
    pub(crate) fn finished(&mut self, now: Instant) {
        if self.phase == Phase::Playing {
            let wait = Duration::from_secs(u64::from(self.menu.timeout_secs));
            self.phase = Phase::Waiting(now + wait);
        }
    }

    /// A key was pressed.
    pub(crate) fn digit(&mut self, key: char) -> Option<MenuStep> {
        if self.phase == Phase::Done {
            return None;
        }
        if let Some(a) = self.menu.choices.get(key.to_string().as_str()) {
            self.phase = Phase::Done;
            return Some(MenuStep::Go(a.clone()));
        }
        Some(self.again(true))
    }

    /// When [`MenuRun::poll`] has something to do.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting(t) => Some(t),
            _ => None,
        }
    }

    /// The wait for a key is over?
    pub(crate) fn poll(&mut self, now: Instant) -> Option<MenuStep> {
        match self.phase {
            Phase::Waiting(t) if now >= t => Some(self.again(false)),
            _ => None,
        }
    }

    /// Another round, or giving up after the last.
    fn again(&mut self, invalid: bool) -> MenuStep {
        if self.round >= self.menu.tries {
            self.phase = Phase::Done;
            return match &self.menu.on_timeout {
                Some(a) => MenuStep::Go(a.clone()),
                None => MenuStep::End,
            };
        }
        self.round += 1;
        self.phase = Phase::Playing;
        let mut list = Vec::with_capacity(2);
        if invalid {
            list.push(self.menu.invalid_prompt.clone());
        }
        list.push(self.menu.prompt.clone());
        MenuStep::Play(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu() -> Menu {
        let mut m = Menu::new("hoofd", "menu");
        m.choices
            .insert("1".into(), Action::Extension("1001".into()));
        m.choices
            .insert("2".into(), Action::Keuzemenu("sub".into()));
        m.tries = 2;
        m.timeout_secs = 5;
        m
    }

    #[test]
    fn a_choice_goes_at_once_also_during_the_prompt() {
        let (mut run, first) = MenuRun::start(menu());
        assert_eq!(first, MenuStep::Play(vec!["menu".into()]));
        assert_eq!(
            run.digit('2'),
            Some(MenuStep::Go(Action::Keuzemenu("sub".into())))
        );
        assert_eq!(run.digit('1'), None, "done");
    }

    #[test]
    fn an_invalid_key_then_silence_gives_up_after_the_tries() {
        let t0 = Instant::now();
        let (mut run, _) = MenuRun::start(menu());
        run.finished(t0);
        assert_eq!(
            run.digit('9'),
            Some(MenuStep::Play(vec![
                "ongeldige-keuze".into(),
                "menu".into()
            ]))
        );
        run.finished(t0);
        assert_eq!(run.poll(t0 + Duration::from_secs(4)), None);
        assert_eq!(run.deadline(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(run.poll(t0 + Duration::from_secs(5)), Some(MenuStep::End));
    }

    #[test]
    fn silence_repeats_the_menu_then_goes_to_on_timeout() {
        let t0 = Instant::now();
        let mut m = menu();
        m.on_timeout = Some(Action::Extension("1002".into()));
        let (mut run, _) = MenuRun::start(m);
        run.finished(t0);
        assert_eq!(
            run.poll(t0 + Duration::from_secs(5)),
            Some(MenuStep::Play(vec!["menu".into()]))
        );
        run.finished(t0 + Duration::from_secs(9));
        assert_eq!(
            run.poll(t0 + Duration::from_secs(14)),
            Some(MenuStep::Go(Action::Extension("1002".into())))
        );
    }
}
