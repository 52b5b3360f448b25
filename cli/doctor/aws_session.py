"""The AWS connection the doctor checks, read once from the environment it was given.

boto3 reads its chain from os.environ, but the doctor is handed an environment (the process's,
or a test's). So the parts of that chain an operator sets are read here, once, and given to boto3
as explicit arguments; whatever the environment leaves unset falls to boto3's own chain (config
files, the container or instance role), as it does in the web and worker processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import boto3
import botocore.session
from botocore.exceptions import PartialCredentialsError

from core.settings import Settings
from workers.aws.gateway import AwsGateway


@dataclass(frozen=True)
class AwsConnection:
    """Where and as whom whose-key calls AWS. The secret parts never appear in a repr."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    config_file: str | None = None
    credentials_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AwsConnection:
        """The AWS_* variables of env that the standard chain reads, blank ones as unset."""

        def get(*names: str) -> str | None:
            # The first name set wins, in the order botocore itself looks them up.
            return next((value for name in names if (value := env.get(name, "").strip())), None)

        return cls(
            profile=get("AWS_DEFAULT_PROFILE", "AWS_PROFILE"),
            # botocore reads AWS_DEFAULT_REGION; AWS_REGION is what the other SDKs and our README use.
            region=get("AWS_DEFAULT_REGION", "AWS_REGION"),
            endpoint_url=get("AWS_ENDPOINT_URL"),
            access_key_id=get("AWS_ACCESS_KEY_ID"),
            secret_access_key=get("AWS_SECRET_ACCESS_KEY"),
            session_token=get("AWS_SESSION_TOKEN"),
            config_file=get("AWS_CONFIG_FILE"),
            credentials_file=get("AWS_SHARED_CREDENTIALS_FILE"),
        )

    def session(self) -> boto3.Session:
        """A boto3 session from these values; raises PartialCredentialsError for half a key pair.

        A profile that does not exist raises ProfileNotFound, here or at the first client.
        """
        if bool(self.access_key_id) != bool(self.secret_access_key):
            missing = "AWS_SECRET_ACCESS_KEY" if self.access_key_id else "AWS_ACCESS_KEY_ID"
            raise PartialCredentialsError(provider="env", cred_var=missing)
        core = botocore.session.Session()
        # Set on this session only: no other session, and no environment, is touched.
        if self.config_file:
            core.set_config_variable("config_file", self.config_file)
        if self.credentials_file:
            core.set_config_variable("credentials_file", self.credentials_file)
        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token if self.access_key_id else None,
            region_name=self.region,
            botocore_session=core,
            profile_name=self.profile,
        )

    def gateway(self, settings: Settings) -> AwsGateway:
        """The AWS layer's gateway, on this session and endpoint, assuming the settings' member role."""
        return AwsGateway(settings.role_name, settings.external_id, base=self.session(), endpoint_url=self.endpoint_url)
