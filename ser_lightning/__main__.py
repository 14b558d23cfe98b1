"""``python -m ser_lightning``: the LightningCLI entry point (fit, validate, test, predict), and ``export``."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["export"]:
        from .sharing.export import main as export

        export(sys.argv[2:])
    else:
        from .cli import main

        main()
