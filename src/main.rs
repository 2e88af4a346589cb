//! The `gradtop` binary: everything lives in the library; [`gradtop::cli`] runs the command.

fn main() -> std::process::ExitCode {
    gradtop::cli::main()
}
