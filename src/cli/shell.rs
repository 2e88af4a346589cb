//! `gradtop completions SHELL` and `gradtop man`: shell completions and a man page generated
//! from the parser's own definitions, so they never disagree with what the parser accepts.

use std::io::Write;
use std::process::ExitCode;

use clap_complete::Shell;
use color_eyre::eyre::{self, WrapErr};

/// The completion script of `command` for `shell`, as the shell's completion loader reads it.
pub fn completions(mut command: clap::Command, shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    let name = command.get_name().to_string();
    clap_complete::generate(shell, &mut command, name, &mut out);
    out
}

/// The man page of `command` in roff, for `man -l -` or a `man1` folder.
pub fn man_page(command: clap::Command) -> eyre::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .wrap_err("rendering the man page")?;
    Ok(out)
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) ends the command quietly, as
/// it does any Unix filter.
pub fn print(bytes: &[u8]) -> eyre::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).wrap_err("writing to standard output")
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> clap::Command {
        clap::Command::new("gradtop")
            .about("Train and watch")
            .subcommand(clap::Command::new("train").arg(clap::Arg::new("scenario")))
    }

    #[test]
    fn completions_name_the_program_and_its_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(completions(command(), shell)).expect("utf-8");
            assert!(
                text.contains("gradtop") && text.contains("train"),
                "{shell}: {text}"
            );
        }
    }

    #[test]
    fn the_man_page_is_roff_with_a_name_section() {
        let text = String::from_utf8(man_page(command()).expect("renders")).expect("utf-8");
        assert!(
            text.starts_with(".ie") || text.contains(".TH gradtop"),
            "{text}"
        );
        assert!(text.contains(".SH NAME"), "{text}");
    }
}
