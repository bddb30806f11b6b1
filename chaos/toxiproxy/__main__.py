"""`python -m chaos.toxiproxy`: the proxy server (the same as `golive toxiproxy`)."""

from golive.chaos.toxiproxy.run import main

main()
