"""Local images for the docker provider and the backend, for machines that reach no registry
(`golive images build`): a Debian base made with debootstrap, then Postgres, Redis, Python, the
fault proxy and the backend built on it, each as soon as what it is built from is there."""
