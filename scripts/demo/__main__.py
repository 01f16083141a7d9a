"""``python -m scripts.demo``: the whole demo, step by step (see ``scripts/demo/__init__.py``)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from scripts.demo import ab_test, activation, report, retraining, showcase, steps
from scripts.demo.session import Session, say


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.session = Session(args)

    def run(self) -> dict[str, Any]:
        d = self.session
        started = time.perf_counter()
        history, future = steps.load(d)
        d.stack.start()
        try:
            model = steps.train_and_promote(d, history)
            steps.stream_history(d, history)
            replayed = steps.replay(d, model, history, future)
            replayed = ab_test.ab_test(d, model, history, future, replayed)
            showcase.showcase(d, model, history)
            showcase.audiences(d)
            retraining.retrain(d, future, replayed)
            activation.activation(d, history + future)
            path = report.report(d)
            say(f"8. report: {path}  (whole run {time.perf_counter() - started:.0f} s)")
            if d.args.serve:
                self.serve()
        finally:
            d.stack.stop()
        return d.figures

    def serve(self) -> None:
        user = self.session.figures["showcase"]["user"]
        say("\nThe stack keeps running (Ctrl-C stops it). Open the console in a browser:")
        say(f"  {self.session.api}/console#/user/{user}")
        say("or try:")
        for cmd in (
            f"curl -s {self.session.api}/health",
            f"curl -s '{self.session.api}/users/{user}/recommendations?k=5&explain=true'",
            f"curl -s {self.session.api}/users/{user}/profile",
            f"curl -s {self.session.api}/segments",
            f"curl -s '{self.session.api}/segments/risk_flagged/users?limit=10'",
            f"curl -s '{self.session.api}/items/50/similar?k=5'",
        ):
            say("  " + cmd)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            say("stopping")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="make demo: the whole product on MovieLens-100K on the local stack")
    parser.add_argument("--sample", type=int, default=200, help="interactions asked about through the live API")
    parser.add_argument("--ab-sample", type=int, default=450, help="interactions the A/B test asks about (step 4b)")
    parser.add_argument("--ab-per-user", type=int, default=3, help="at most this many of them per user")
    parser.add_argument("--trials", type=int, default=60, help="freshness trials (step 5)")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s when streaming the history (0: max)")
    parser.add_argument("--max-users", type=int, default=0, help="use only the first N users (quick runs)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--aws-port", type=int, default=5000)
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--poll-interval", type=float, default=0.2)
    parser.add_argument("--serve", action="store_true", help="keep the stack running at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    Demo(parse_args(argv)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
