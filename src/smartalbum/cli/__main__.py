"""``python -m smartalbum.cli``: what the embedded worker and the tests start."""

from smartalbum.cli.app import main

main()
