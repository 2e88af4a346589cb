//! Hostile input, faults and signals: every case here once lost work, crashed or ate the
//! machine's memory, and must now end with a clear message, the right exit status and nothing
//! lost. One module per kind of fault.

mod data;
mod disk;
mod fuzz;
mod locks;
mod sidecars;
mod sizes;
mod support;

#[test]
fn a_missing_scenario_is_refused_naming_it() {
    let f = support::fixture();
    let out = support::run(&mut support::command(
        &f,
        &["train", "no-such-scenario.toml", "--headless"],
    ));
    support::assert_refused(&out, 2, &["no-such-scenario.toml"]);
}
