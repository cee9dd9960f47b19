"""``python -m kasse.payments.testgateway``: run the simulated payment gateway."""

from kasse.payments.testgateway.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
