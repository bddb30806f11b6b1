"""One module per `golive` command: each parses its options, calls the stages (golive/stages/) and
prints; golive/cli.py registers them."""
