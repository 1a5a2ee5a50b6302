"""``syrisign lexicon build|list|add``."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lexicon", help="build, list and grow sign lexicons (index.csv + .pose recordings)")
    lsub = p.add_subparsers(dest="lexicon_command", metavar="ACTION", required=True)

    b = lsub.add_parser("build", help="build the default Arabic lexicon (Jordanian letters, KArSL letters, "
                                      "numbers and words, the Saudi dictionary's words and letters) into "
                                      "$SYRISIGN_HOME/lexicons/default",
                        description="Resumable; MediaPipe runs on the KArSL and Saudi dictionary clips (a few "
                                    "minutes on 2 cores; datasets already built are reused). Signs added with "
                                    "`lexicon add` are kept.")
    b.add_argument("--output", help="folder to build into (default $SYRISIGN_HOME/lexicons/default)")
    from syrisign.lexicon import PARTS
    b.add_argument("--parts", nargs="+", choices=list(PARTS),
                   help="build only these parts (default: all)")
    b.add_argument("--per-word", type=int, default=2, help="KArSL recordings kept per word and signer (default 2)")
    b.add_argument("--workers", type=int, default=None, help="MediaPipe worker processes")
    b.set_defaults(func=_build)

    ls = lsub.add_parser("list", help="list a lexicon's entries")
    ls.add_argument("--lexicon", help="lexicon folder or index.csv, 'default' or 'jos' (default: default)")
    ls.add_argument("--search", help="only entries whose Arabic (normalized) or English contains TEXT")
    ls.add_argument("--kind", choices=["word", "letter", "number"], help="only this kind of entry")
    ls.add_argument("--community", nargs="?", const="", default=None, metavar="DIR",
                    help="the community signs (of DIR, default $SYRISIGN_HOME/lexicons/community), who added them")
    ls.add_argument("--removed", action="store_true", help="with --community: removed signs too")
    ls.set_defaults(func=_list)

    g = lsub.add_parser("gaps", help="the words of a text or corpus with no recorded sign, ranked: what to record next",
                        description="Plans every line of the files (# comment lines left out) as translate does "
                                    "and lists the content words that would be fingerspelled, grouped by lemma and "
                                    "ranked by frequency, with the share of content tokens a recording of each "
                                    "would add (cumulative).")
    g.add_argument("files", nargs="+", metavar="FILE", help="UTF-8 text files ('-' reads standard input)")
    g.add_argument("--lexicon", help="lexicon folder or index.csv (default: the default lexicon)")
    g.add_argument("--csv", metavar="OUT", help="also write the whole list as CSV")
    g.add_argument("--top", type=int, default=40, help="rows to print (default 40; 0 = all)")
    g.add_argument("--fuzzy", action="store_true",
                   help="count the trained retrieval model's fuzzy matches as signed (default: they are gaps)")
    g.set_defaults(func=_gaps)

    a = lsub.add_parser("add", help="add a sign from a video (MediaPipe) or a .pose/.npz file",
                        description="Runs MediaPipe Holistic on a video, trims idle frames at both ends, saves a "
                                    ".pose file and appends its row to index.csv. A folder without a lexicon "
                                    "becomes a new one.")
    a.add_argument("source", metavar="VIDEO_OR_POSE")
    a.add_argument("--word", required=True, help="the Arabic word or phrase the sign means")
    a.add_argument("--english", default="", help="English gloss")
    a.add_argument("--lexicon", help="a lexicon folder to add to as it is (default: the community lexicon, with "
                                     "the quality checks, the source video kept)")
    a.add_argument("--community", metavar="DIR", help="the community lexicon's folder (default "
                                                      "$SYRISIGN_HOME/lexicons/community)")
    a.add_argument("--by", default="", help="who adds it (community; default the user name)")
    a.add_argument("--force", action="store_true", help="community: add even when a quality check fails")
    a.add_argument("--signed-language", default="", help="ISO 639-3 code of the sign language, e.g. jos, sdl")
    a.add_argument("--priority", type=int, default=0, help="lower is preferred (default 0: before KArSL's 1, 2)")
    a.add_argument("--signer", default="")
    a.add_argument("--no-trim", action="store_true", help="keep idle frames at both ends")
    a.set_defaults(func=_add)

    r = lsub.add_parser("remove", help="remove a community sign (kept in trash/ until --purge; --restore undoes)")
    r.add_argument("id", nargs="?", help="the sign's id (lexicon list --community shows it)")
    r.add_argument("--restore", action="store_true", help="undo the removal of ID")
    r.add_argument("--purge", action="store_true", help="delete for good the files of every removed sign")
    r.add_argument("--community", metavar="DIR")
    r.add_argument("--by", default="")
    r.set_defaults(func=_remove)

    x = lsub.add_parser("export", help="the community lexicon as a zip another SyriSign or spoken-to-signed loads")
    x.add_argument("out", help="the zip to write")
    x.add_argument("--community", metavar="DIR")
    x.set_defaults(func=_export)


def _build(args) -> int:
    from dataclasses import replace

    from syrisign.lexicon import PARTS, DefaultLexiconConfig, Lexicon, build_default_lexicon

    cfg = DefaultLexiconConfig(parts=tuple(args.parts or PARTS), recordings_per_word_signer=args.per_word,
                               workers=args.workers)
    cfg = replace(cfg, candidates_per_word_signer=max(cfg.candidates_per_word_signer, args.per_word))
    out = build_default_lexicon(args.output, progress=True, config=cfg)
    lex = Lexicon.load(out)
    kinds: dict[str, int] = {}
    for e in lex.entries:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    print(f"lexicon {out}: {len(lex)} entries ("
          + ", ".join(f"{v} {k}s" for k, v in sorted(kinds.items())) + f"), signed languages {', '.join(lex.signed_languages)}")
    return 0


def _community(args):
    from syrisign.community import CommunityLexicon
    return CommunityLexicon(getattr(args, "community", None) or None)


def _list(args) -> int:
    from syrisign.lexicon import load_lexicon

    if args.community is not None:
        com = _community(args)
        recs = com.records(include_removed=args.removed)
        for r in recs:
            state = f"removed {r['removed_at']} by {r['removed_by'] or '-'}" if r["removed_at"] else "in use"
            print(f"{r['id']}\t{r['words']}\t{r['english'] or '-'}\tadded {r['added_at']} by "
                  f"{r['added_by'] or '-'}\t{state}")
        print(f"{len(recs)} community sign(s) in {com.root}")
        return 0

    lex = load_lexicon(args.lexicon)
    entries = lex.search(args.search) if args.search else lex.entries
    if args.kind:
        entries = [e for e in entries if e.kind == args.kind]
    for e in entries:
        print(f"{e.id}\t{e.kind}\t{e.words}\t{e.english or '-'}\t{e.signed_language or '-'}\tpriority {e.priority}")
    print(f"{len(entries)} of {len(lex)} entries in {lex.root}")
    return 0


def _add_community(args, src: Path) -> int:
    """``lexicon add`` into the community lexicon: decoded like an upload, checked, the source video kept."""
    import getpass

    from syrisign.contrib import UploadError, prepare_upload, quality_checks, sniff_video
    from syrisign.community import with_community
    from syrisign.lexicon import INDEX, Lexicon, LexiconError, default_lexicon_dir
    from syrisign.pose import PoseSequence

    # compared with the signs already here: the default lexicon if it is built (not built for this) and the
    # community's own
    default = default_lexicon_dir()
    lex = with_community(Lexicon.load(default) if (default / INDEX).is_file() else Lexicon(default, []),
                         _community(args))
    video, ext = None, ".mp4"
    if src.suffix.lower() in (".pose", ".npz"):
        report = quality_checks(PoseSequence.load(src), args.word, lex)
    else:
        if src.is_dir():
            raise LexiconError(f"{src}: the community lexicon takes a video file (mp4, webm, gif, mov, avi)")
        video = src.read_bytes()
        try:
            report, ext = prepare_upload(video, args.word, lex, max_seconds=60.0, max_frames=1500)
        except UploadError as e:
            raise LexiconError(f"{src.name}: {e}") from None
        ext = sniff_video(video[:16]) or ext
    for c in report.checks:
        print(f"  {'ok ' if c.ok else 'NO '} {c.name}: {c.message}")
    if not report.ok and not args.force:
        raise LexiconError(f"{src.name} was not added: " + "; ".join(c.message for c in report.failed)
                           + " (--force adds it anyway)")
    com = _community(args)
    rec = com.add(args.word, report.signing, english=args.english, added_by=args.by or getpass.getuser(),
                  video=video, video_ext=ext, signed_language=args.signed_language)
    print(f"added {rec['words']!r} as community sign {rec['id']} ({len(report.signing)} frames) to {com.root}")
    return 0


def _remove(args) -> int:
    from syrisign.lexicon import LexiconError

    com = _community(args)
    if args.purge:
        print(f"purged {com.purge()} removed sign(s) from {com.root}")
        return 0
    if not args.id:
        raise LexiconError("give the id of the sign (syrisign lexicon list --community), or --purge")
    rec = com.restore(args.id) if args.restore else com.remove(args.id, by=args.by)
    print(f"{'restored' if args.restore else 'removed'} {rec['words']!r} ({rec['id']})"
          + ("" if args.restore else "; `syrisign lexicon remove --restore ID` undoes it"))
    return 0


def _export(args) -> int:
    com = _community(args)
    out = com.export(args.out)
    print(f"wrote {len(com.records())} community sign(s) to {out}")
    return 0


def _gaps(args) -> int:
    from syrisign.gaps import find_gaps, read_lines
    from syrisign.lexicon import load_lexicon
    from syrisign.pose import atomic_write_bytes

    lines = read_lines(args.files)
    lex = load_lexicon(args.lexicon)
    fuzzy = None
    if args.fuzzy:
        from retrieval.producer import make_fuzzy_matcher
        fuzzy = make_fuzzy_matcher(lexicon=lex)
    report = find_gaps(lines, lex, fuzzy=fuzzy, with_fuzzy=args.fuzzy)
    print(report.table(args.top or None))
    if args.csv:
        atomic_write_bytes(Path(args.csv), report.to_csv().encode("utf-8"))
        print(f"wrote {len(report.gaps)} rows to {args.csv}")
    return 0


def _add(args) -> int:
    from syrisign.data.extract import VIDEO_SUFFIXES, ExtractionError
    from syrisign.lexicon import Lexicon, LexiconError, default_lexicon_dir
    from syrisign.pose import PoseSequence

    src = Path(args.source).expanduser()
    if not src.exists():
        raise LexiconError(f"no such file: {src}")
    if not args.lexicon:
        return _add_community(args, src)
    if src.suffix.lower() in (".pose", ".npz"):
        seq = PoseSequence.load(src)
    elif src.suffix.lower() in VIDEO_SUFFIXES or src.is_dir():
        from syrisign.data.extract import HolisticExtractor
        extractor = HolisticExtractor()
        try:
            seq = extractor.extract_path(src)
        except ExtractionError:
            raise
        except Exception as e:  # decoder or MediaPipe failures on a damaged file
            raise ExtractionError(f"{src.name}: cannot extract landmarks ({type(e).__name__}: {e})") from None
        finally:
            extractor.close()
    else:
        raise LexiconError(f"{src.name}: give a video ({', '.join(VIDEO_SUFFIXES)}), a frame folder, "
                           "or a .pose/.npz file")
    frames_in = len(seq)
    if not args.no_trim:
        seq = seq.trim_idle()
    folder = Path(args.lexicon).expanduser() if args.lexicon else default_lexicon_dir()
    lex = Lexicon.create(folder)
    entry = lex.add(args.word, seq, english=args.english, signed_language=args.signed_language,
                    priority=args.priority, source=f"added from {src.name}", signer=args.signer)
    print(f"added {entry.words!r} as {entry.path} ({len(seq)} of {frames_in} frames, {seq.fps:g} fps) "
          f"to {lex.root / 'index.csv'}; {len(lex)} entries")
    return 0
