"""What the extraction workers' forkserver loads once, for every worker to share.

The extraction stage's modules (``pipelines.extract``, which the workers run), and
trafilatura's justext stoplist: trafilatura builds it lazily (every language's
stopwords, ~30 MB with justext's lower-cased copy) on the first page that needs its
justext rescue, so each worker would build one of its own, and again after each pool
replacement. Built here, before the workers fork, it is shared. ``gc.freeze`` then keeps collections in the workers from writing to (and so
copying) these shared objects.
"""
import gc

from justext.core import define_stoplist
from trafilatura import external

import pipelines.extract  # noqa: F401  (the workers' tasks, the extractor under them)

define_stoplist(external.JT_STOPLIST or external.jt_stoplist_init())  # the form try_justext asks for
gc.freeze()
