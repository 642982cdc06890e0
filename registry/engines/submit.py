"""The `featreg` command as a file ``spark-submit`` can run (it runs ``.py`` files):

    SUBMIT=$(python -c 'import registry.engines.submit as s; print(s.__file__)')
    spark-submit --master yarn "$SUBMIT" usage ingest s3a://bucket/usage/ --engine spark

The Spark engine then runs on the session ``spark-submit`` set up (its master, packages and
configuration); the catalog database is the one ``--db`` or ``FEATREG_DATABASE_URL`` names.
"""

from __future__ import annotations

if __name__ == "__main__":
    from registry.cli import main

    main()
