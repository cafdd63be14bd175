"""``irgrad.nn.functional``: the functional form of every layer, activation and loss."""

from ...tensor_ops.distances import pdist  # noqa: F401
from ...tensor_ops.indexing import one_hot  # noqa: F401
from ...tensor_ops.padding import pad  # noqa: F401
from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .channels import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .conv3d import *  # noqa: F401,F403
from .ctc import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding_bag import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .multilabel_margin import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .pooling3d import *  # noqa: F401,F403
from .resample import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403
from .stochastic import *  # noqa: F401,F403
from .triplet_distance import *  # noqa: F401,F403
from .unpooling import *  # noqa: F401,F403
from .window_max import *  # noqa: F401,F403
