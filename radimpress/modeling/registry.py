"""Where a named base model's weights are: a local folder or the Hugging Face cache, downloaded only when asked."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from radimpress.config.catalog import MODEL_REGISTRY
from radimpress.errors import ModelUnavailableError

if TYPE_CHECKING:
    from radimpress.config import HubConfig, Profile


def is_tiny(name: str) -> bool:
    """True for the offline analogs that radimpress builds itself."""
    return MODEL_REGISTRY[name].tiny is not None


def hub_id(name: str, hub: HubConfig | None = None) -> str:
    """The Hugging Face id of a pretrained model: the profile's override, else the registry's."""
    return (hub.ids if hub else {}).get(name) or MODEL_REGISTRY[name].hub_id


def resolve_pretrained(name: str, local_paths: dict[str, str], hub: HubConfig | None = None) -> str:
    """Where a pretrained model's weights are: a local folder, or its snapshot (at the pinned revision) in the cache.

    Raises:
        ModelUnavailableError: the weights are not on this machine (downloads happen only in `check_available`).
    """
    if name in local_paths:
        path = Path(local_paths[name])
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"model '{name}': no config.json in model_paths folder {path}")
        return str(path)
    repo, revision = hub_id(name, hub), _revision(name, hub)
    snapshot = _hf_cache_snapshot(repo, revision)
    if snapshot:
        return snapshot  # the snapshot folder names the commit, so a newer download gets new cache keys
    at = f" at revision '{revision}'" if revision else ""
    raise ModelUnavailableError(
        f"model '{name}' ({repo}{at}) is not on this machine: run `{download_command(name, hub)}` where the Hub is "
        f"reachable (gated models need HF_TOKEN) and copy HF_HOME here, set hub.download: true in the profile, "
        f"or set model_paths.{name} to a local folder"
    )


def download_command(name: str, hub: HubConfig | None = None) -> str:
    """The shell command that fetches a model's weights into the Hugging Face cache, at its pinned revision."""
    revision = _revision(name, hub)
    return f"hf download {hub_id(name, hub)}" + (f" --revision {revision}" if revision else "")


def missing_models(profile: Profile) -> list[str]:
    """The profile's pretrained models (fine-tuned and judge) whose weights are not on this machine."""
    names = dict.fromkeys([*profile.models, profile.judge.model])
    missing = []
    for name in names:
        if is_tiny(name):
            continue
        try:
            resolve_pretrained(name, profile.model_paths, profile.hub)
        except ModelUnavailableError:
            missing.append(name)
    return missing


def check_available(
    names: Iterable[str], local_paths: dict[str, str], hub: HubConfig | None = None, token: str | None = None
) -> None:
    """Fail before any work starts if a pretrained model is missing; download it first when the profile allows."""
    for name in dict.fromkeys(names):
        if is_tiny(name):
            continue
        try:
            resolve_pretrained(name, local_paths, hub)
        except ModelUnavailableError:
            if not (hub and hub.download) or name in local_paths:
                raise
            download_pretrained(name, hub, token)


def preflight(profile: Profile, token: str | None = None) -> None:
    """Everything a run needs from this machine before any work: its models, and vLLM if the profile asks for it."""
    check_available([*profile.models, profile.judge.model], profile.model_paths, profile.hub, token)
    if profile.generate.backend == "vllm":
        from radimpress.modeling.vllm import require_vllm

        require_vllm()


def download_pretrained(name: str, hub: HubConfig, token: str | None) -> str:
    """Fetch a model into the Hugging Face cache (safetensors weights, config and tokenizer only)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError

    repo, revision = hub_id(name, hub), _revision(name, hub)
    try:
        with _online():
            return snapshot_download(
                repo,
                revision=revision,
                token=token or False,  # False: never fall back to a token file some other tool left on disk
                cache_dir=os.environ.get("HF_HUB_CACHE"),
                allow_patterns=["*.json", "*.safetensors", "tokenizer.model", "*.txt"],
                endpoint=hub.endpoint,
            )
    except GatedRepoError:
        raise ModelUnavailableError(
            f"model '{name}' ({repo}) is gated: accept its licence on huggingface.co, then give radimpress a token "
            f"with read access in HF_TOKEN or in the Prefect Secret block '{hub.token_secret}'"
        ) from None
    except Exception as exc:  # offline, not found, network: one line the user can act on, not a traceback
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailableError(f"model '{name}' ({repo}) could not be downloaded: {first_line}") from None


@contextmanager
def _online():
    """The Hub reachable for the download alone, though HF_HUB_OFFLINE=1 is set for every service (so nothing
    else, such as a model load, ever reaches out): huggingface_hub reads the switch once, into `constants`."""
    from huggingface_hub import constants

    offline = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = offline


def hub_token(secret_value: str | None = None) -> str | None:
    """The Hub token for gated models: HF_TOKEN from the environment, else the Prefect Secret's value."""
    return os.environ.get("HF_TOKEN") or secret_value or None


def _revision(name: str, hub: HubConfig | None) -> str | None:
    return (hub.revisions if hub else {}).get(name)


def _hf_cache_snapshot(repo: str, revision: str | None) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        repo, "config.json", cache_dir=os.environ.get("HF_HUB_CACHE"), revision=revision or "main"
    )
    return str(Path(found).parent) if isinstance(found, str) else None
