"""The study's pretrained models: pinned revisions in a real Hugging Face cache layout, id overrides, downloads
that fail with one actionable line, and the Hub token from HF_TOKEN or a Prefect Secret block (never the profile)."""

import hashlib
import http.server
import json
import threading
from pathlib import Path

import huggingface_hub.constants
import pytest
from prefect.blocks.system import Secret
from prefect.testing.utilities import prefect_test_harness

from radimpress.config import HubConfig, Profile, TinyBaseConfig
from radimpress.errors import ModelUnavailableError
from radimpress.modeling.loading import load_base_model
from radimpress.modeling.registry import check_available, hub_token, resolve_pretrained
from tasks.data import hub_token_from_secret

MAIN, PINNED = "a" * 40, "b" * 40


def _cache_snapshot(cache: Path, repo: str, commit: str, branch: str | None = None) -> Path:
    """Lay out a snapshot the way `hf download` does: models--org--name/snapshots/<commit>, refs/<branch>."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text('{"model_type": "llama"}')
    if branch:
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / branch).write_text(commit)
    return snapshot


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    _cache_snapshot(cache, "meta-llama/Llama-3.2-1B", MAIN, branch="main")
    _cache_snapshot(cache, "meta-llama/Llama-3.2-1B", PINNED)
    return cache


def test_unpinned_model_resolves_to_the_cached_main_snapshot(hf_cache):
    assert Path(resolve_pretrained("llama-3.2-1b", {})).name == MAIN


def test_pinned_revision_resolves_to_its_own_snapshot(hf_cache):
    hub = HubConfig(revisions={"llama-3.2-1b": PINNED})
    assert Path(resolve_pretrained("llama-3.2-1b", {}, hub)).name == PINNED


def test_missing_pinned_revision_names_the_model_revision_and_the_fix(hf_cache):
    hub = HubConfig(revisions={"llama-3.2-1b": "c" * 40})
    with pytest.raises(ModelUnavailableError) as error:
        check_available(["tiny-llama", "llama-3.2-1b"], {}, hub)
    message = str(error.value)
    assert "model 'llama-3.2-1b' (meta-llama/Llama-3.2-1B at revision 'cccc" in message
    assert f"hf download meta-llama/Llama-3.2-1B --revision {'c' * 40}" in message
    assert "hub.download: true" in message and "model_paths.llama-3.2-1b" in message
    assert "\n" not in message


def test_hub_id_override_is_looked_up_instead_of_the_registry_id(hf_cache):
    _cache_snapshot(hf_cache, "my-org/llama-1b-mirror", PINNED, branch="main")
    hub = HubConfig(ids={"llama-3.2-1b": "my-org/llama-1b-mirror"})
    assert "models--my-org--llama-1b-mirror" in resolve_pretrained("llama-3.2-1b", {}, hub)


def test_a_download_that_cannot_reach_the_hub_fails_with_one_line(hf_cache, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    closed = HubConfig(download=True, endpoint="http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(ModelUnavailableError) as error:
        check_available(["mistral-7b"], {}, closed, token="hf_not_a_real_token")
    message = str(error.value)
    assert message.startswith("model 'mistral-7b' (mistralai/Mistral-7B-v0.3) could not be downloaded: ")
    assert "hf_not_a_real_token" not in message and "\n" not in message


def test_without_download_a_missing_model_fails_before_any_download(hf_cache):
    with pytest.raises(ModelUnavailableError, match="is not on this machine"):
        check_available(["mistral-7b"], {}, HubConfig(download=False))


def test_tokens_and_revisions_for_tiny_models_are_not_profile_fields():
    with pytest.raises(ValueError, match="token"):
        Profile.model_validate({"name": "x", "hub": {"token": "hf_secret"}})
    with pytest.raises(ValueError, match="built offline"):
        Profile.model_validate({"name": "x", "hub": {"revisions": {"tiny-llama": "main"}}})


def test_hf_token_from_the_environment_wins_over_the_secret(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert hub_token("from-secret") == "from-secret"
    assert hub_token(None) is None
    monkeypatch.setenv("HF_TOKEN", "from-env")
    assert hub_token("from-secret") == "from-env"


def test_token_is_read_from_a_real_prefect_secret_block():
    with prefect_test_harness():
        Secret(value="hf_from_block").save("hf-token-test")
        assert hub_token_from_secret("hf-token-test") == "hf_from_block"
        assert hub_token_from_secret("no-such-block") is None


def _git_oid(data: bytes) -> str:
    """The git blob id the Hub lists for a file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _FakeHub(http.server.ThreadingHTTPServer):
    """The Hub routes a snapshot download uses, on 127.0.0.1: the revision, its file tree, and each file."""

    def __init__(self, repo: str, folder: Path, extra: dict[str, bytes]):
        self.repo, self.commit = repo, "d" * 40
        self.files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} | extra
        self.served: list[str] = []
        super().__init__(("127.0.0.1", 0), _FakeHubHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FakeHubHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self._answer(body=False)

    def do_GET(self):
        self._answer(body=True)

    def _answer(self, body: bool):
        hub: _FakeHub = self.server
        if self.path.startswith(f"/api/models/{hub.repo}/revision/"):
            listing = {"id": hub.repo, "sha": hub.commit, "siblings": [{"rfilename": f} for f in hub.files]}
            return self._send(json.dumps(listing).encode(), {"Content-Type": "application/json"}, body)
        if self.path.startswith(f"/api/models/{hub.repo}/tree/"):
            tree = [
                {"type": "file", "path": f, "size": len(data), "oid": _git_oid(data)} for f, data in hub.files.items()
            ]
            return self._send(json.dumps(tree).encode(), {"Content-Type": "application/json"}, body)
        prefix = f"/{hub.repo}/resolve/"
        if self.path.startswith(prefix):
            name = self.path[len(prefix) :].split("/", 1)[1]
            if name in hub.files:
                data = hub.files[name]
                if body:
                    hub.served.append(name)
                etag = hashlib.sha256(data).hexdigest()
                return self._send(data, {"X-Repo-Commit": hub.commit, "ETag": f'"{etag}"'}, body)
        self._send(b"{}", {}, body, status=404)

    def _send(self, data: bytes, headers: dict[str, str], body: bool, status: int = 200):
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(data)


@pytest.fixture
def fake_hub(tmp_path):
    from radimpress.sim.tiny import build_tiny_base

    texts = ["Lungs are clear.", "No pleural effusion.", "Mild cardiomegaly."] * 20
    folder = build_tiny_base("tiny-llama", texts, TinyBaseConfig(vocab_size=300, pretrain_steps=0), tmp_path / "m")
    hub = _FakeHub("acme/llama-1b-mirror", folder, {"pytorch_model.bin": b"not wanted", "README.md": b"# card"})
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    yield hub, folder
    hub.shutdown()


def test_download_true_really_downloads_while_everything_else_stays_offline(hf_cache, fake_hub, monkeypatch):
    hub, folder = fake_hub
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as scripts/env.sh sets it
    config = HubConfig(download=True, endpoint=hub.url, ids={"llama-3.2-3b": hub.repo})
    check_available(["llama-3.2-3b"], {}, config)
    snapshot = Path(resolve_pretrained("llama-3.2-3b", {}, config))
    assert (
        snapshot.name == hub.commit
        and (snapshot / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    )
    # weights, config and tokenizer only: no pickled .bin, no model card
    assert sorted(hub.served) == sorted(p.name for p in folder.iterdir() if p.is_file())
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True  # offline again once the download is done
    model = load_base_model(snapshot)  # what came down is a model transformers loads, offline
    assert model.config.hidden_size == 128
    # a second check finds it in the cache: nothing more is fetched
    check_available(["llama-3.2-3b"], {}, config)
    assert len(hub.served) == len({p.name for p in folder.iterdir() if p.is_file()})
