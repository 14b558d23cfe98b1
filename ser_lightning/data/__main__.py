"""Data command line: ``python -m ser_lightning.data {synth,manifest,stats}``.

- ``synth --out DIR``: write the synthetic multilingual corpus.
- ``manifest --corpus NAME --root DIR --label-space categorical4 --out FILE.jsonl``: parse a corpus
  as downloaded, read every header, map labels and write one JSON record per kept utterance.
- ``stats FILE.jsonl``: counts per label, speaker, language and gender, hours, duration percentiles.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ser_lightning.data.audio import AudioError
from ser_lightning.data.corpora import CORPORA, get_corpus
from ser_lightning.data.demo import LANGUAGES, SynthesisSpec, synthesize_corpus
from ser_lightning.data.labels import LABEL_SPACES, NEUTRAL_VALENCE, build_label_space
from ser_lightning.data.manifest import ManifestError, read_manifest, write_manifest
from ser_lightning.data.stats import manifest_stats


def _synth(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    try:
        spec = SynthesisSpec(
            languages=tuple(args.languages),
            speakers_per_language=args.speakers,
            sentences_per_language=args.sentences,
            shift=args.shift,
            remap=args.remap,
            seed=args.seed,
            sample_rate=args.sample_rate,
            noise_floor_db=None if args.no_noise_floor else tuple(args.noise_floor_db),
        )
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    utterances = synthesize_corpus(args.out, spec)
    print(f"Wrote {len(utterances)} utterances to {args.out} (manifest {args.out / 'manifest.jsonl'}) in {time.perf_counter() - start:.1f} s.")


def _manifest(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    corpus = get_corpus(args.corpus)(str(args.root), args.languages, strict=args.strict)
    space = build_label_space(args.label_space, neutral_valence=args.neutral_valence, native=corpus.native_labels())
    start = time.perf_counter()
    corpus.prepare()
    kept, dropped = space.apply(corpus.load(), source=repr(corpus))
    write_manifest(kept, args.out)
    print(
        f"Wrote {len(kept)} {corpus.name} utterances ({args.label_space}: {', '.join(space.names)}) to {args.out} "
        f"in {time.perf_counter() - start:.1f} s."
    )
    if dropped:
        print(f"Left out {sum(dropped.values())} utterances with labels outside {args.label_space}: {dict(sorted(dropped.items()))}")
    if corpus.skipped:
        print(f"Skipped {len(corpus.skipped)} file(s) that do not follow the {corpus.name} naming scheme (--strict refuses them):")
        for path, reason in sorted(corpus.skipped.items()):
            print(f"  {path}: {reason}")


def _stats(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    print(manifest_stats(read_manifest(args.manifest)))


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m ser_lightning.data`` parser, one subcommand per data task."""
    parser = argparse.ArgumentParser(prog="python -m ser_lightning.data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = SynthesisSpec()
    synth = commands.add_parser("synth", help="write the synthetic multilingual emotional speech corpus")
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--seed", type=int, default=defaults.seed)
    synth.add_argument("--speakers", type=int, default=defaults.speakers_per_language, help="speakers per language")
    synth.add_argument("--sentences", type=int, default=defaults.sentences_per_language, help="sentences per language")
    synth.add_argument("--languages", nargs="+", default=list(defaults.languages), choices=LANGUAGES)
    synth.add_argument("--shift", type=float, default=defaults.shift, help="per-language expression shift strength")
    synth.add_argument("--remap", type=float, default=defaults.remap, help="Urdu cue exchange strength")
    synth.add_argument("--sample-rate", type=int, default=defaults.sample_rate)
    floor = synth.add_mutually_exclusive_group()
    floor.add_argument(
        "--noise-floor-db",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=list(defaults.noise_floor_db or ()),
        help="range of each speaker's recording noise floor, in dB below its speech level",
    )
    floor.add_argument("--no-noise-floor", action="store_true", help="write exact digital silence instead of a noise floor")
    synth.set_defaults(run=_synth, command_parser=synth)

    manifest = commands.add_parser("manifest", help="write a JSONL manifest of a corpus folder as downloaded")
    manifest.add_argument("--corpus", required=True, choices=sorted(CORPORA), help="which corpus the folder holds")
    manifest.add_argument("--root", type=Path, required=True, help="the corpus folder as downloaded")
    manifest.add_argument("--out", type=Path, required=True, help="the .jsonl file to write (paths under its folder are written relative to it)")
    manifest.add_argument(
        "--label-space", default="categorical4", choices=[s for s in LABEL_SPACES if s != "custom"], help="classes to keep (default: categorical4)"
    )
    manifest.add_argument("--neutral-valence", default="drop", choices=NEUTRAL_VALENCE, help="neutral's side in binary_valence")
    manifest.add_argument("--languages", nargs="+", default=None, help="keep only these languages (e.g. ESD's en)")
    manifest.add_argument("--strict", action="store_true", help="refuse the corpus at a file outside its naming scheme (default: skip and list it)")
    manifest.set_defaults(run=_manifest, command_parser=manifest)

    stats = commands.add_parser("stats", help="print counts, hours and duration percentiles of a manifest")
    stats.add_argument("manifest", type=Path, help="a .jsonl manifest")
    stats.set_defaults(run=_stats, command_parser=stats)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen subcommand; data errors exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args, args.command_parser)
    except (ManifestError, AudioError) as error:  # bad data: the message names the file and the fix
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
