"""nonlin_ui.queue_fix: a fragment run's start drops the unsent reference messages of that fragment together with
its other unsent deltas (Streamlit 1.67 kept them: a cached chart without the blocks it belongs in, which the
browser put where a block goes, "Bad message format"). Messages of other fragments and of the page stay."""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

from tests.support.server import ROOT

# A full run's unsent messages when a rerun of fragment F starts: F's blocks, a chart inside them the browser has
# cached (queued as a reference), a chart of fragment G, also cached, the page's next element, the run's end.
SCENARIO = textwrap.dedent("""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.forward_msg_cache import populate_hash_if_needed
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
    from streamlit.runtime.scriptrunner_utils import script_run_context as context
    from nonlin_ui import queue_fix
    if FIX:
        assert queue_fix.install() and not queue_fix.install()        # once
    def delta(path, fragment, kind):
        msg = ForwardMsg()
        msg.metadata.delta_path[:] = path
        msg.delta.fragment_id = fragment
        if kind == "block":
            msg.delta.add_block.allow_empty = True
        else:
            msg.delta.new_element.markdown.body = kind * 200
            msg.metadata.cacheable = True
            populate_hash_if_needed(msg)
        return msg
    def queued(fragments):
        q = ForwardMsgQueue()
        q.enqueue(delta([0, 3, 0], "F", "block"))
        q.enqueue(delta([0, 3, 0, 1], "F", "block"))
        q.enqueue(context.create_reference_msg(delta([0, 3, 0, 1, 0], "F", "chart")))   # the browser has it
        q.enqueue(context.create_reference_msg(delta([0, 5, 0], "G", "other chart")))
        q.enqueue(delta([0, 6], "", "text"))
        end = ForwardMsg(); end.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
        q.enqueue(end)
        for rerun in fragments:
            q.clear(retain_lifecycle_msgs=True, fragment_ids_this_run=rerun)
        return [(m.WhichOneof("type"), list(m.metadata.delta_path)) for m in q.flush()]
    print(queued([["F"]]))
    print(queued([None]))
    print(queued([["F"], ["G"]]))        # then G reruns too, before its reference was sent
""")


def run(fix: bool) -> list[str]:
    out = subprocess.run([sys.executable, "-c", f"FIX = {fix}\n" + SCENARIO], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_a_fragment_runs_start_drops_its_unsent_cached_elements_with_its_blocks():
    fragment_run, full_run, then_g = run(fix=True)
    assert fragment_run == str([("ref_hash", [0, 5, 0]), ("delta", [0, 6]), ("script_finished", [])])
    assert full_run == str([("script_finished", [])])         # a full run's start drops every delta, as before
    assert then_g == str([("delta", [0, 6]), ("script_finished", [])])   # G's reference, kept by F's, goes with G's


def test_streamlit_alone_keeps_them_the_bug_the_fix_is_for():
    fragment_run, _, _ = run(fix=False)
    assert ("ref_hash", [0, 3, 0, 1, 0]) in ast.literal_eval(fragment_run)     # fixed upstream: drop queue_fix
