fn main() -> std::process::ExitCode {
    crier::cli::main()
}
