"""Image kind (Glance): cluster-scoped, name = image id; visibility decides who sees it.

Image spec (written by the image facade)
  {name, owner (project id), visibility (public|private|shared|community), protected,
   diskFormat, containerFormat, minDisk, minRam, tags[], properties{}, members{project: status}}
Image status (written by the image facade during upload)
  {state (queued|saving|active|killed|deleted|deactivated|uploading|importing),
   checksum (md5), osHashAlgo ("sha512"), osHashValue, size, virtualSize, blob (sha256 of
   the stored file), uploadStartedAt}
"""

from __future__ import annotations

from .registry import KindInfo, register

IMAGE = "Image"
# A metadata-definitions namespace with its objects, properties, tags and resource type
# associations (Glance's metadefs), named by the namespace; written by the image facade.
METADEF_NAMESPACE = "MetadefNamespace"

register(KindInfo(IMAGE, "images", namespaced=False, admin_only=True))  # tenants use Glance
register(KindInfo(METADEF_NAMESPACE, "metadefnamespaces", namespaced=False, admin_only=True))
