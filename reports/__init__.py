"""Go-live reports built from a run directory (the Go-live validation issue). Run artifacts land in
reports/out/<run-id>/, which git ignores."""
