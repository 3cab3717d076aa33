"""The ``runlane`` command line: thin commands that parse, call the SDK or a store, and print.

Layout: :mod:`.main` builds the parser and maps errors to exit codes (0 success, 1 a runlane
error with a one-line ``runlane: error: ...`` on stderr, 2 a usage error); :mod:`.common`
holds what every command shares (``--dir``/``--json``, opening the store, formatting);
:mod:`.tabular` writes metric rows as CSV and Parquet. Each other module registers one group
of commands: :mod:`.runs` (``ls``, ``show``), :mod:`.metrics`, :mod:`.logs`, :mod:`.export`,
:mod:`.manage` (``rm``, ``reindex``) and :mod:`.demo`. Heavy imports (numpy through the SDK,
rich, pyarrow) happen inside the commands, so ``runlane --help`` stays fast.
"""
