"""A finished model is freed when the caller drops it (Mesa 3.3's Agent._ids registry kept
every model alive: about 1.9 MB per training-window run, 9 GB per calibration worker)."""
import gc
import weakref

import mesa

from sim.model import InnovationModel


def test_dropped_model_is_freed_and_agent_ids_still_count_per_model():
    m = InnovationModel("baseline", seed=1, scale=0.002, collect=True)
    m.step()
    first = m.government.unique_id
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None
    m2 = InnovationModel("baseline", seed=1, scale=0.002, collect=True)
    assert m2.government.unique_id == first          # ids start afresh for each model
    ids = [a.unique_id for a in m2.agents]
    assert len(ids) == len(set(ids))                  # and stay unique within it
    assert m2 in mesa.Agent._ids
