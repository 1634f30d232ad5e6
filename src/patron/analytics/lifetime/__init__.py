"""Statistical customer lifetime-value models: BG/NBD, Pareto/NBD, Gamma-Gamma, sBG and discounted CLV.

All transaction models take per-customer (x, t_x, T): repeat purchases, time of the last purchase after
the first, and time from the first purchase to the end of the calibration period, in one time unit of
the caller's choosing (weeks, days); every parameter and prediction is in that same unit. Fits run on
compressed rows (identical customers counted once, with a weight), so millions of customers are cheap.
"""

from patron.analytics.lifetime._common import MIN_REPEAT_BUYERS, LifetimeModel, compress
from patron.analytics.lifetime.bgnbd import BetaGeo
from patron.analytics.lifetime.clv import LIFETIMES_PERIODS_PER_MONTH, clv, clv_lifetimes_compatible
from patron.analytics.lifetime.gammagamma import GammaGamma
from patron.analytics.lifetime.paretonbd import ParetoNBD
from patron.analytics.lifetime.sbg import ShiftedBetaGeometric

__all__ = [
    "LIFETIMES_PERIODS_PER_MONTH",
    "MIN_REPEAT_BUYERS",
    "BetaGeo",
    "GammaGamma",
    "LifetimeModel",
    "ParetoNBD",
    "ShiftedBetaGeometric",
    "clv",
    "clv_lifetimes_compatible",
    "compress",
]
