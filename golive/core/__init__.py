"""golive's ground floor: what every capability shares (documents, signals, run directories,
redaction, console, JUnit reading, the contract rules). It imports nothing of the rest of golive,
so anything may import it (docs/architecture.md)."""
