"""The learner's workspace: their own copy of the course, updated without losing their work.

- ``location``: which folder is the workspace when none is named;
- ``release``: the course notebooks that ship inside the package;
- ``manifest``: the workspace's record of what the course gave it (hashes, merge bases);
- ``create``: making a workspace the first time it is opened (``bpcourse open``);
- ``merge`` / ``update``: ``bpcourse update``, nbdime's three-way merge of edited notebooks;
- ``progress`` / ``pack`` / ``submit``: the grader on the learner's notebooks, the zip to hand in;
- ``files`` / ``store``: atomic writes, the lock, and the few ways anything is written there.
"""
