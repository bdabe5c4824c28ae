"""`ecgviewer eval`: measure a local model on a labelled ECG set, the way ECGBench does.

    eval run DATASET --model M.gguf --mmproj P.gguf --task T --out R.jsonl [--limit N] [--resume]
    eval run PTBXL_FOLDER --task ptb-xl-super ... [--fold 10]
    eval score R.jsonl --task T [--json]
    eval compare A.jsonl B.jsonl --task T [--json]
    eval report R.jsonl --task T --out R.pdf

The work is done in `ecgviewer.core.evaluation`; this module parses arguments,
wires the model in (`evaluation.model_answers.make_answer_fn`) and prints.
See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ecgviewer.core.evaluation.session import DEFAULT_MAX_TOKENS, DEFAULT_SEED, EvalRunRequest
from ecgviewer.core.evaluation.tasks import TASKS

if TYPE_CHECKING:  # numpy and reportlab load only for the eval commands
    from ecgviewer.core.evaluation.results_io import ResultRow


def register(commands: argparse._SubParsersAction) -> None:
    """Add `eval` and its sub-commands to the `ecgviewer` parser."""
    parser = commands.add_parser(
        "eval",
        help="measure a local model on a labelled ECG set (ECGBench metrics)",
        description="Evaluation mode: run a model over a labelled ECG set, score, compare, report.",
    )
    actions = parser.add_subparsers(dest="eval_command", metavar="ACTION", title="actions")
    actions.required = True
    _add_run(actions)
    _add_score(actions)
    _add_compare(actions)
    _add_report(actions)


def _task_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, choices=list(TASKS), help="how answers are scored")


def _dataset_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", type=Path, help="labelled set to take gold answers from when rows lack `gold`"
    )


def _add_run(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser("run", help="answer every question of a labelled set")
    parser.add_argument(
        "dataset", type=Path, help="folder with images and a listing, the listing, or PTB-XL"
    )
    parser.add_argument("--model", type=Path, help="text model (.gguf)")
    parser.add_argument("--mmproj", type=Path, help="vision projector (.gguf)")
    parser.add_argument(
        "--server", metavar="URL",
        help="answer on this OpenAI-compatible inference server instead of --model/--mmproj "
        "(API key: credential store or ECGVIEWER_SERVER_KEY)",
    )  # fmt: skip
    parser.add_argument(
        "--concurrency", type=int, default=1, metavar="N",
        help="with --server: requests sent at a time (default 1)",
    )  # fmt: skip
    _task_argument(parser)
    parser.add_argument("--out", required=True, type=Path, help="results file (.jsonl)")
    parser.add_argument("--limit", type=int, help="only the first N questions of the set")
    parser.add_argument("--resume", action="store_true", help="skip questions already in --out")
    parser.add_argument("--image-root", type=Path, help="folder relative image paths start from")
    parser.add_argument(
        "--fold", type=int, choices=range(1, 11), metavar="1-10",
        help="PTB-XL folder: the strat_fold to evaluate (default 10, the test fold)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="sampling seed (default 42)")
    parser.add_argument(
        "--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="new tokens per answer (1024)"
    )
    parser.set_defaults(handler=run_command)


def _add_score(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser("score", help="score a results file")
    parser.add_argument("results", type=Path, help="results file (.jsonl)")
    _task_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--items", action="store_true", help="with --json: add every item's reading"
    )
    _dataset_option(parser)
    parser.set_defaults(handler=score_command)


def _add_compare(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser("compare", help="two runs side by side, with disagreements")
    parser.add_argument("first", type=Path, help="results file A (.jsonl)")
    parser.add_argument("second", type=Path, help="results file B (.jsonl)")
    _task_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    _dataset_option(parser)
    parser.set_defaults(handler=compare_command)


def _add_report(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser("report", help="write a PDF report of a scored run")
    parser.add_argument("results", type=Path, help="results file (.jsonl)")
    _task_argument(parser)
    parser.add_argument("--out", required=True, type=Path, help="PDF to write")
    parser.add_argument(
        "--page-size",
        choices=["auto", "A4", "Letter"],
        default="auto",
        help="paper (auto: from the system locale)",
    )
    _dataset_option(parser)
    parser.set_defaults(handler=report_command)


# --- run ----------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """Answer the set's questions with the model, appending to --out; then print the score."""
    from ecgviewer.core.evaluation.run_score import score_after_run
    from ecgviewer.core.evaluation.session import run_evaluation
    from ecgviewer.core.evaluation.text_output import format_run_summary, format_score

    with TerminalProgress() as progress:
        summary = run_evaluation(run_request(args), progress=progress, warn=_warn)
    print(format_run_summary(summary))
    if summary.written:
        at_a_time = f", {args.concurrency} at a time" if args.server else ""
        print(f"Throughput: {summary.per_minute:.1f} ECGs per minute{at_a_time}.")
    score = score_after_run(summary, args.task)
    if score.report is not None:
        print()
        print(format_score(score.report))
    elif not score.nothing_answered:  # the run itself succeeded; say why there is no score
        print(f"ecgviewer: {score.problem}", file=sys.stderr)
    return 0


def run_request(args: argparse.Namespace) -> EvalRunRequest:
    """The parsed `eval run` arguments as the core's request."""
    check_model_choice(args)
    return EvalRunRequest(
        dataset=args.dataset, model=args.model or Path(), mmproj=args.mmproj or Path(),
        task=args.task, out=args.out, limit=args.limit, resume=args.resume,
        image_root=args.image_root, seed=args.seed, max_tokens=args.max_tokens,
        server=args.server or "", concurrency=args.concurrency, fold=args.fold,
    )  # fmt: skip


def check_model_choice(args: argparse.Namespace) -> None:
    """A local pair (--model and --mmproj) or a --server, not both; --concurrency needs a server."""
    from ecgviewer.core.errors import InputError

    if args.server and (args.model or args.mmproj):
        raise InputError("Give either --server or --model/--mmproj, not both.")
    if not args.server and not (args.model and args.mmproj):
        raise InputError("Give --model and --mmproj (the text GGUF and its projector), "
                         "or --server URL.")  # fmt: skip
    if args.concurrency != 1 and not args.server:
        raise InputError("--concurrency needs --server (the local model answers one at a time).")


def _warn(warning: str) -> None:
    print(f"ecgviewer: warning: {warning}", file=sys.stderr)


class TerminalProgress:
    """A tqdm bar with ETA on stderr (hidden when stderr is not a terminal)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        """Runner callback: `done` of `total` items have a row."""
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=done,
                unit="item",
                file=sys.stderr,
                disable=None,
                dynamic_ncols=True,
            )
            return
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()


# --- score, compare, report -------------------------------------------------------


def score_command(args: argparse.Namespace) -> int:
    """Print the score of a results file (tables, or one JSON object with --json)."""
    _print_score(args.results, args.task, as_json=args.json, dataset=args.dataset, items=args.items)
    return 0


def _print_score(
    results: Path, task: str, *, as_json: bool, dataset: Path | None, items: bool = False
) -> None:
    from ecgviewer.core.evaluation.session import score_file
    from ecgviewer.core.evaluation.text_output import format_score

    report = score_file(results, task, dataset)
    if as_json:
        print(json.dumps(report.to_json(include_items=items), indent=2, ensure_ascii=False))
    else:
        print(format_score(report))


def compare_command(args: argparse.Namespace) -> int:
    """Print two runs side by side and every question they read differently."""
    from ecgviewer.core.evaluation.compare import compare_runs
    from ecgviewer.core.evaluation.session import read_rows
    from ecgviewer.core.evaluation.text_output import format_comparison

    rows_a, _ = read_rows(args.first, args.dataset)
    rows_b, _ = read_rows(args.second, args.dataset)
    comparison = compare_runs(
        rows_a,
        rows_b,
        args.task,
        name_a=_run_name(args.first, rows_a),
        name_b=_run_name(args.second, rows_b),
    )
    if args.json:
        print(json.dumps(comparison.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_comparison(comparison))
    return 0


def _run_name(path: Path, rows: list[ResultRow]) -> str:
    models = sorted({row.model_id for row in rows if row.model_id})
    return f"{path.name} ({', '.join(models)})" if models else path.name


def report_command(args: argparse.Namespace) -> int:
    """Write the PDF report of a scored run, with the provenance recorded beside it."""
    from ecgviewer.core.evaluation.session import write_report

    path = write_report(
        args.results, args.task, args.out, page_size=args.page_size, dataset=args.dataset
    )
    print(f"Report written: {path}")
    return 0
