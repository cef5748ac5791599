"""
Constants used with the TIE client: hash types, providers, trust levels, the attribute ids found in
reputations, and the property names of responses and events.

Every constant class is a plain class whose members are plain ``int`` or ``str`` values, so they can
be compared with the values found in TIE responses and events (``rep["trustLevel"] ==
TrustLevel.KNOWN_TRUSTED``). Attribute ids are strings because they are JSON object keys; attribute
values in responses are strings too (convert them with ``int()`` where a number is meant).

Some classes carry static helper methods that decode attribute values: :class:`EpochMixin` (epoch
times), :class:`EnterpriseAttrib` (server version) and :class:`FileEnterpriseAttrib` (aggregate
reputation strings).
"""

from __future__ import absolute_import

import base64
import struct
import sys
import time

#: The built-in ``range`` (kept for compatibility with scripts written for Python 2, where it was
#: ``xrange``).
RANGE = range


class HashType(object):
    """
    Hash types used to identify a file (the keys of a ``hashes`` dictionary).

    +---------+------------+
    | Name    | Value      |
    +=========+============+
    | MD5     | ``md5``    |
    +---------+------------+
    | SHA1    | ``sha1``   |
    +---------+------------+
    | SHA256  | ``sha256`` |
    +---------+------------+
    """

    #: MD5 (32 hexadecimal digits)
    MD5 = "md5"
    #: SHA-1 (40 hexadecimal digits)
    SHA1 = "sha1"
    #: SHA-256 (64 hexadecimal digits)
    SHA256 = "sha256"


class FileProvider(object):
    """
    Providers of file reputations (the ``providerId`` of a file reputation, and the keys of the
    dictionary returned by :meth:`dxltieclient.client.TieClient.get_file_reputation`).

    +------------+-------+-----------------------------------------------------------+
    | Name       | Value | Provider                                                  |
    +============+=======+===========================================================+
    | GTI        | 1     | Global Threat Intelligence                                |
    +------------+-------+-----------------------------------------------------------+
    | ENTERPRISE | 3     | Enterprise reputation (set by administrators or scripts)  |
    +------------+-------+-----------------------------------------------------------+
    | ATD        | 5     | Advanced Threat Defense                                   |
    +------------+-------+-----------------------------------------------------------+
    | MWG        | 7     | Web Gateway                                               |
    +------------+-------+-----------------------------------------------------------+
    | EXTERNAL   | 15    | External reputation (TIE 3.0+; see                        |
    |            |       | ``TieClient.set_external_file_reputation``)               |
    +------------+-------+-----------------------------------------------------------+
    """

    #: Global Threat Intelligence
    GTI = 1
    #: Enterprise reputation
    ENTERPRISE = 3
    #: Advanced Threat Defense
    ATD = 5
    #: Web Gateway
    MWG = 7
    #: External reputation
    EXTERNAL = 15


class CertProvider(object):
    """
    Providers of certificate reputations.

    +------------+-------+----------------------------+
    | Name       | Value | Provider                   |
    +============+=======+============================+
    | GTI        | 2     | Global Threat Intelligence |
    +------------+-------+----------------------------+
    | ENTERPRISE | 4     | Enterprise reputation      |
    +------------+-------+----------------------------+
    """

    #: Global Threat Intelligence
    GTI = 2
    #: Enterprise reputation
    ENTERPRISE = 4


class TrustLevel(object):
    """
    Trust levels of a reputation (the ``trustLevel`` of every provider, ATD included), and the
    values accepted by the ``set_*`` methods of :class:`dxltieclient.client.TieClient`.

    +-------------------------+-------+
    | Name                    | Value |
    +=========================+=======+
    | KNOWN_TRUSTED_INSTALLER | 100   |
    +-------------------------+-------+
    | KNOWN_TRUSTED           | 99    |
    +-------------------------+-------+
    | MOST_LIKELY_TRUSTED     | 85    |
    +-------------------------+-------+
    | MIGHT_BE_TRUSTED        | 70    |
    +-------------------------+-------+
    | UNKNOWN                 | 50    |
    +-------------------------+-------+
    | MIGHT_BE_MALICIOUS      | 30    |
    +-------------------------+-------+
    | MOST_LIKELY_MALICIOUS   | 15    |
    +-------------------------+-------+
    | KNOWN_MALICIOUS         | 1     |
    +-------------------------+-------+
    | NOT_SET                 | 0     |
    +-------------------------+-------+
    """

    #: Known trusted installer
    KNOWN_TRUSTED_INSTALLER = 100
    #: Known trusted
    KNOWN_TRUSTED = 99
    #: Most likely trusted
    MOST_LIKELY_TRUSTED = 85
    #: Might be trusted
    MIGHT_BE_TRUSTED = 70
    #: Unknown
    UNKNOWN = 50
    #: Might be malicious
    MIGHT_BE_MALICIOUS = 30
    #: Most likely malicious
    MOST_LIKELY_MALICIOUS = 15
    #: Known malicious
    KNOWN_MALICIOUS = 1
    #: Not set
    NOT_SET = 0


class AtdTrustLevel(object):
    """
    Scores reported in the *attributes* of an Advanced Threat Defense (ATD) reputation (see
    :class:`AtdAttrib`). The ``trustLevel`` of the ATD reputation itself uses the ordinary
    :class:`TrustLevel` scale.

    +-----------------------+-------+
    | Name                  | Value |
    +=======================+=======+
    | KNOWN_TRUSTED         | -1    |
    +-----------------------+-------+
    | MOST_LIKELY_TRUSTED   | 0     |
    +-----------------------+-------+
    | MIGHT_BE_TRUSTED      | 1     |
    +-----------------------+-------+
    | UNKNOWN               | 2     |
    +-----------------------+-------+
    | MIGHT_BE_MALICIOUS    | 3     |
    +-----------------------+-------+
    | MOST_LIKELY_MALICIOUS | 4     |
    +-----------------------+-------+
    | KNOWN_MALICIOUS       | 5     |
    +-----------------------+-------+
    | NOT_SET               | -2    |
    +-----------------------+-------+
    """

    #: Known trusted
    KNOWN_TRUSTED = -1
    #: Most likely trusted
    MOST_LIKELY_TRUSTED = 0
    #: Might be trusted
    MIGHT_BE_TRUSTED = 1
    #: Unknown
    UNKNOWN = 2
    #: Might be malicious
    MIGHT_BE_MALICIOUS = 3
    #: Most likely malicious
    MOST_LIKELY_MALICIOUS = 4
    #: Known malicious
    KNOWN_MALICIOUS = 5
    #: Not set
    NOT_SET = -2


class ReputationProp(object):
    """
    Property names of a reputation (one provider's entry in a reputations dictionary).

    +-------------+----------------+--------------------------------------------+
    | Name        | Value          | Meaning                                    |
    +=============+================+============================================+
    | PROVIDER_ID | ``providerId`` | the provider (:class:`FileProvider` or     |
    |             |                | :class:`CertProvider`)                     |
    +-------------+----------------+--------------------------------------------+
    | TRUST_LEVEL | ``trustLevel`` | the trust level (:class:`TrustLevel`)      |
    +-------------+----------------+--------------------------------------------+
    | CREATE_DATE | ``createDate`` | when the reputation was created (epoch     |
    |             |                | seconds; see :class:`EpochMixin`)          |
    +-------------+----------------+--------------------------------------------+
    | ATTRIBUTES  | ``attributes`` | provider-specific attributes (ids to       |
    |             |                | string values)                             |
    +-------------+----------------+--------------------------------------------+
    """

    #: The provider of the reputation
    PROVIDER_ID = "providerId"
    #: The trust level of the reputation
    TRUST_LEVEL = "trustLevel"
    #: The creation date (epoch seconds)
    CREATE_DATE = "createDate"
    #: The provider-specific attributes
    ATTRIBUTES = "attributes"


class FileReputationProp(ReputationProp):
    """
    Property names of a file reputation: the same as :class:`ReputationProp`.
    """


class CertReputationProp(ReputationProp):
    """
    Property names of a certificate reputation: those of :class:`ReputationProp` plus
    ``OVERRIDDEN``.

    +------------+----------------+------------------------------------------------------+
    | Name       | Value          | Meaning                                              |
    +============+================+======================================================+
    | OVERRIDDEN | ``overridden`` | files signed by the certificate whose enterprise     |
    |            |                | reputation overrides it (see                         |
    |            |                | :class:`CertReputationOverriddenProp`)               |
    +------------+----------------+------------------------------------------------------+
    """

    #: Files signed by the certificate that have an overriding enterprise reputation
    OVERRIDDEN = "overridden"


class CertReputationOverriddenProp(object):
    """
    Property names of the ``overridden`` object of an enterprise certificate reputation.

    +-----------+---------------+--------------------------------------------------------+
    | Name      | Value         | Meaning                                                |
    +===========+===============+========================================================+
    | FILES     | ``files``     | list of files (each with its ``hashes`` as a           |
    |           |               | ``{type: hex}`` dictionary)                            |
    +-----------+---------------+--------------------------------------------------------+
    | TRUNCATED | ``truncated`` | ``1`` when the list of files was truncated, else ``0`` |
    +-----------+---------------+--------------------------------------------------------+
    """

    #: The overriding files
    FILES = "files"
    #: Whether the list of files was truncated
    TRUNCATED = "truncated"


class EpochMixin(object):
    """
    Helper methods for attributes and properties whose value is a time in epoch seconds.
    """

    @staticmethod
    def to_localtime(epoch_time: "int | float | str") -> time.struct_time:
        """
        Converts an epoch time to a local time.

        :param epoch_time: the epoch time in seconds (an ``int``, ``float`` or numeric string, such
            as an attribute value)
        :return: the local time as a :class:`time.struct_time`
        """
        return time.localtime(float(epoch_time))

    @staticmethod
    def to_localtime_string(epoch_time: "int | float | str",
                            format: str = "%Y-%m-%d %H:%M:%S") -> str:
        """
        Converts an epoch time to a local time string.

        :param epoch_time: the epoch time in seconds (an ``int``, ``float`` or numeric string, such
            as an attribute value)
        :param format: the :func:`time.strftime` format (default ``%Y-%m-%d %H:%M:%S``)
        :return: the formatted local time, e.g. ``2016-10-07 13:54:52``
        """
        return time.strftime(format, EpochMixin.to_localtime(epoch_time))


class EnterpriseAttrib(EpochMixin):
    """
    Attribute ids common to the enterprise reputations of files and certificates.

    +----------------+-------------+---------------------------------------------------+
    | Name           | Value       | Meaning                                           |
    +================+=============+===================================================+
    | SERVER_VERSION | ``2139285`` | the TIE server version, encoded (decode with      |
    |                |             | :meth:`to_version_tuple` or                       |
    |                |             | :meth:`to_version_string`)                        |
    +----------------+-------------+---------------------------------------------------+
    """

    #: The encoded TIE server version
    SERVER_VERSION = "2139285"

    @staticmethod
    def to_version_tuple(version_attrib: "int | str") -> "tuple[int, int, int, int]":
        """
        Decodes an encoded server version attribute into its four parts.

        :param version_attrib: the attribute value (a numeric string or an ``int``)
        :return: ``(major, minor, patch, build)`` as ``int`` values, e.g. ``(1, 4, 0, 190)``
        """
        value = int(version_attrib)
        return ((value >> 56) & 0xFF, (value >> 48) & 0xFF, (value >> 32) & 0xFFFF,
                value & 0xFFFFFFFF)

    @staticmethod
    def to_version_string(version_attrib: "int | str") -> str:
        """
        Decodes an encoded server version attribute into a dotted string.

        :param version_attrib: the attribute value (a numeric string or an ``int``)
        :return: the version, e.g. ``1.4.0.190``
        """
        return ".".join(str(part) for part in EnterpriseAttrib.to_version_tuple(version_attrib))


class FileEnterpriseAttrib(EnterpriseAttrib):
    """
    Attribute ids of an enterprise file reputation (provider :attr:`FileProvider.ENTERPRISE`).
    Times are epoch seconds (see :class:`EpochMixin`).

    +----------------------+-------------+--------------------------------------------------+
    | Name                 | Value       | Meaning                                          |
    +======================+=============+==================================================+
    | FIRST_CONTACT        | ``2102165`` | when the file was first seen in the enterprise   |
    +----------------------+-------------+--------------------------------------------------+
    | PREVALENCE           | ``2101652`` | count of systems that have run the file          |
    +----------------------+-------------+--------------------------------------------------+
    | ENTERPRISE_SIZE      | ``2111893`` | count of systems in the enterprise               |
    +----------------------+-------------+--------------------------------------------------+
    | MIN_LOCAL_REP        | ``2112148`` | lowest local reputation seen                     |
    +----------------------+-------------+--------------------------------------------------+
    | MAX_LOCAL_REP        | ``2112404`` | highest local reputation seen                    |
    +----------------------+-------------+--------------------------------------------------+
    | AVG_LOCAL_REP        | ``2112660`` | average local reputation                         |
    +----------------------+-------------+--------------------------------------------------+
    | PARENT_MIN_LOCAL_REP | ``2112916`` | lowest local reputation of the parent            |
    +----------------------+-------------+--------------------------------------------------+
    | PARENT_MAX_LOCAL_REP | ``2113172`` | highest local reputation of the parent           |
    +----------------------+-------------+--------------------------------------------------+
    | PARENT_AVG_LOCAL_REP | ``2113428`` | average local reputation of the parent           |
    +----------------------+-------------+--------------------------------------------------+
    | DETECTION_COUNT      | ``2113685`` | number of detections                             |
    +----------------------+-------------+--------------------------------------------------+
    | LAST_DETECTION_TIME  | ``2113942`` | time of the last detection                       |
    +----------------------+-------------+--------------------------------------------------+
    | IS_PREVALENT         | ``2123156`` | whether the file is prevalent in the enterprise  |
    +----------------------+-------------+--------------------------------------------------+
    | FILE_NAME_COUNT      | ``2114965`` | number of distinct names of the file             |
    +----------------------+-------------+--------------------------------------------------+
    | CHILD_FILE_REPS      | ``2138520`` | aggregate reputation of child files (decode with |
    |                      |             | :meth:`to_aggregate_tuple`)                      |
    +----------------------+-------------+--------------------------------------------------+
    | PARENT_FILE_REPS     | ``2138264`` | aggregate reputation of parent files (decode     |
    |                      |             | with :meth:`to_aggregate_tuple`)                 |
    +----------------------+-------------+--------------------------------------------------+
    """

    #: First contact (epoch seconds)
    FIRST_CONTACT = "2102165"
    #: Prevalence (count of systems)
    PREVALENCE = "2101652"
    #: Enterprise size (count of systems)
    ENTERPRISE_SIZE = "2111893"
    #: Lowest local reputation
    MIN_LOCAL_REP = "2112148"
    #: Highest local reputation
    MAX_LOCAL_REP = "2112404"
    #: Average local reputation
    AVG_LOCAL_REP = "2112660"
    #: Lowest local reputation of the parent
    PARENT_MIN_LOCAL_REP = "2112916"
    #: Highest local reputation of the parent
    PARENT_MAX_LOCAL_REP = "2113172"
    #: Average local reputation of the parent
    PARENT_AVG_LOCAL_REP = "2113428"
    #: Detection count
    DETECTION_COUNT = "2113685"
    #: Last detection time (epoch seconds)
    LAST_DETECTION_TIME = "2113942"
    #: Whether the file is prevalent
    IS_PREVALENT = "2123156"
    #: Count of distinct file names
    FILE_NAME_COUNT = "2114965"
    #: Aggregate reputation of child files
    CHILD_FILE_REPS = "2138520"
    #: Aggregate reputation of parent files
    PARENT_FILE_REPS = "2138264"

    @staticmethod
    def to_aggregate_tuple(aggregate_attrib: "str | bytes") -> "tuple[int | float, ...]":
        """
        Decodes an aggregate reputation attribute (:attr:`CHILD_FILE_REPS`,
        :attr:`PARENT_FILE_REPS`).

        The value is base64 of consecutive unsigned 16-bit little-endian integers: the count of
        files, the highest trust level, the lowest trust level, the trust level of the last file
        and the average trust level times 100. The average is divided by 100 (giving a ``float``)
        when it is greater than zero.

        :param aggregate_attrib: the base64 attribute value
        :return: the decoded values as a tuple, e.g. ``(2, 100, 50, 100, 75.0)``
        :raises IndexError: when the value holds fewer than five numbers
        :raises struct.error: when the decoded value has an odd number of bytes
        """
        raw = base64.b64decode(aggregate_attrib)
        values = list(struct.unpack("<%dH" % (len(raw) // 2), raw))
        if values[4] > 0:
            values[4] = values[4] / 100.0
        return tuple(values)


class CertEnterpriseAttrib(EnterpriseAttrib):
    """
    Attribute ids of an enterprise certificate reputation (provider
    :attr:`CertProvider.ENTERPRISE`). Times are epoch seconds (see :class:`EpochMixin`).

    +--------------------+-------------+-------------------------------------------------------+
    | Name               | Value       | Meaning                                               |
    +====================+=============+=======================================================+
    | FIRST_CONTACT      | ``2109589`` | when the certificate was first seen                   |
    +--------------------+-------------+-------------------------------------------------------+
    | PREVALENCE         | ``2109333`` | count of systems that ran a file signed by it         |
    +--------------------+-------------+-------------------------------------------------------+
    | HAS_FILE_OVERRIDES | ``2122901`` | whether a signed file overrides the certificate's     |
    |                    |             | reputation                                            |
    +--------------------+-------------+-------------------------------------------------------+
    | IS_PREVALENT       | ``2125972`` | whether the certificate is prevalent                  |
    +--------------------+-------------+-------------------------------------------------------+
    """

    #: First contact (epoch seconds)
    FIRST_CONTACT = "2109589"
    #: Prevalence (count of systems)
    PREVALENCE = "2109333"
    #: Whether a signed file overrides the certificate's reputation
    HAS_FILE_OVERRIDES = "2122901"
    #: Whether the certificate is prevalent
    IS_PREVALENT = "2125972"


class GtiAttrib(object):
    """
    Attribute ids common to the GTI reputations of files and certificates.

    +-------------------+-------------+------------------------------+
    | Name              | Value       | Meaning                      |
    +===================+=============+==============================+
    | ORIGINAL_RESPONSE | ``2120340`` | the raw response from GTI    |
    +-------------------+-------------+------------------------------+
    """

    #: The raw GTI response
    ORIGINAL_RESPONSE = "2120340"


class FileGtiAttrib(GtiAttrib):
    """
    Attribute ids of a GTI file reputation (provider :attr:`FileProvider.GTI`). Times are epoch
    seconds: convert them with :meth:`EpochMixin.to_localtime_string`.

    +---------------+-------------+----------------------------------------------+
    | Name          | Value       | Meaning                                      |
    +===============+=============+==============================================+
    | FIRST_CONTACT | ``2101908`` | when GTI first saw the file                  |
    +---------------+-------------+----------------------------------------------+
    | PREVALENCE    | ``2102421`` | how many times GTI was asked about the file  |
    +---------------+-------------+----------------------------------------------+
    """

    #: First contact (epoch seconds)
    FIRST_CONTACT = "2101908"
    #: Prevalence (count of requests)
    PREVALENCE = "2102421"


class CertGtiAttrib(GtiAttrib):
    """
    Attribute ids of a GTI certificate reputation (provider :attr:`CertProvider.GTI`). Times are
    epoch seconds: convert them with :meth:`EpochMixin.to_localtime_string`.

    +---------------+-------------+-------------------------------------------------+
    | Name          | Value       | Meaning                                         |
    +===============+=============+=================================================+
    | FIRST_CONTACT | ``2109077`` | when GTI first saw the certificate              |
    +---------------+-------------+-------------------------------------------------+
    | PREVALENCE    | ``2108821`` | how many times GTI was asked about it           |
    +---------------+-------------+-------------------------------------------------+
    | REVOKED       | ``2117524`` | whether the certificate has been revoked        |
    +---------------+-------------+-------------------------------------------------+
    """

    #: First contact (epoch seconds)
    FIRST_CONTACT = "2109077"
    #: Prevalence (count of requests)
    PREVALENCE = "2108821"
    #: Whether the certificate is revoked
    REVOKED = "2117524"


class AtdAttrib(object):
    """
    Attribute ids of an Advanced Threat Defense reputation (provider :attr:`FileProvider.ATD`).
    The scores use the :class:`AtdTrustLevel` scale.

    +-----------------+-------------+-------------------------------------+
    | Name            | Value       | Meaning                             |
    +=================+=============+=====================================+
    | GAM_SCORE       | ``4194962`` | Gateway Anti-Malware score          |
    +-----------------+-------------+-------------------------------------+
    | AV_ENGINE_SCORE | ``4195218`` | anti-virus engine score             |
    +-----------------+-------------+-------------------------------------+
    | SANDBOX_SCORE   | ``4195474`` | sandbox score                       |
    +-----------------+-------------+-------------------------------------+
    | VERDICT         | ``4195730`` | overall verdict                     |
    +-----------------+-------------+-------------------------------------+
    | BEHAVIORS       | ``4197784`` | encoded behaviours observed         |
    +-----------------+-------------+-------------------------------------+
    """

    #: Gateway Anti-Malware score
    GAM_SCORE = "4194962"
    #: Anti-virus engine score
    AV_ENGINE_SCORE = "4195218"
    #: Sandbox score
    SANDBOX_SCORE = "4195474"
    #: Overall verdict
    VERDICT = "4195730"
    #: Encoded behaviours
    BEHAVIORS = "4197784"


class FirstRefProp(EpochMixin):
    """
    Property names of an entry in the list returned by
    :meth:`~dxltieclient.client.TieClient.get_file_first_references` and
    :meth:`~dxltieclient.client.TieClient.get_certificate_first_references`.

    +-------------+---------------+------------------------------------------------+
    | Name        | Value         | Meaning                                        |
    +=============+===============+================================================+
    | DATE        | ``date``      | when the system first referenced the file or   |
    |             |               | certificate (epoch seconds)                    |
    +-------------+---------------+------------------------------------------------+
    | SYSTEM_GUID | ``agentGuid`` | the GUID of the system                         |
    +-------------+---------------+------------------------------------------------+
    """

    #: The first reference time (epoch seconds)
    DATE = "date"
    #: The system's GUID
    SYSTEM_GUID = "agentGuid"


class RepChangeEventProp(object):
    """
    Property names of a reputation change event (see
    :class:`dxltieclient.callbacks.ReputationChangeCallback`).

    +-----------------+--------------------+-------------------------------------------------+
    | Name            | Value              | Meaning                                         |
    +=================+====================+=================================================+
    | HASHES          | ``hashes``         | the hashes (``{type: hex}``)                    |
    +-----------------+--------------------+-------------------------------------------------+
    | NEW_REPUTATIONS | ``newReputations`` | the reputations after the change, by provider   |
    +-----------------+--------------------+-------------------------------------------------+
    | OLD_REPUTATIONS | ``oldReputations`` | the reputations before the change, by provider  |
    +-----------------+--------------------+-------------------------------------------------+
    | UPDATE_TIME     | ``updateTime``     | when the change happened (epoch seconds)        |
    +-----------------+--------------------+-------------------------------------------------+
    """

    #: The hashes of the file or certificate
    HASHES = "hashes"
    #: The reputations after the change
    NEW_REPUTATIONS = "newReputations"
    #: The reputations before the change
    OLD_REPUTATIONS = "oldReputations"
    #: The time of the change (epoch seconds)
    UPDATE_TIME = "updateTime"


class FileRepChangeEventProp(RepChangeEventProp):
    """
    Property names of a file reputation change event: those of :class:`RepChangeEventProp` plus
    ``RELATIONSHIPS``.

    +---------------+-------------------+--------------------------------------------------+
    | Name          | Value             | Meaning                                          |
    +===============+===================+==================================================+
    | RELATIONSHIPS | ``relationships`` | related objects, e.g. the signing ``certificate``|
    |               |                   | with its ``hashes`` and ``publicKeySha1`` (hex)  |
    +---------------+-------------------+--------------------------------------------------+
    """

    #: Related objects (the signing certificate)
    RELATIONSHIPS = "relationships"


class CertRepChangeEventProp(RepChangeEventProp):
    """
    Property names of a certificate reputation change event: those of
    :class:`RepChangeEventProp` plus ``PUBLIC_KEY_SHA1``.

    +-----------------+-------------------+----------------------------------------------+
    | Name            | Value             | Meaning                                      |
    +=================+===================+==============================================+
    | PUBLIC_KEY_SHA1 | ``publicKeySha1`` | SHA-1 of the certificate's public key (hex)  |
    +-----------------+-------------------+----------------------------------------------+
    """

    #: SHA-1 of the certificate's public key
    PUBLIC_KEY_SHA1 = "publicKeySha1"


class DetectionEventProp(object):
    """
    Property names of a detection event (see :class:`dxltieclient.callbacks.DetectionCallback`).

    +--------------------+-----------------------+-------------------------------------------+
    | Name               | Value                 | Meaning                                   |
    +====================+=======================+===========================================+
    | SYSTEM_GUID        | ``agentGuid``         | the GUID of the system                    |
    +--------------------+-----------------------+-------------------------------------------+
    | HASHES             | ``hashes``            | the hashes of the file (``{type: hex}``)  |
    +--------------------+-----------------------+-------------------------------------------+
    | DETECTION_TIME     | ``detectionTime``     | when the detection occurred (epoch)       |
    +--------------------+-----------------------+-------------------------------------------+
    | LOCAL_REPUTATION   | ``localReputation``   | the local reputation (:class:`TrustLevel`)|
    +--------------------+-----------------------+-------------------------------------------+
    | NAME               | ``name``              | the name of the file                      |
    +--------------------+-----------------------+-------------------------------------------+
    | REMEDIATION_ACTION | ``remediationAction`` | the remediation that was applied          |
    +--------------------+-----------------------+-------------------------------------------+
    """

    #: The system's GUID
    SYSTEM_GUID = "agentGuid"
    #: The hashes of the file
    HASHES = "hashes"
    #: The detection time (epoch seconds)
    DETECTION_TIME = "detectionTime"
    #: The local reputation
    LOCAL_REPUTATION = "localReputation"
    #: The file name
    NAME = "name"
    #: The remediation action
    REMEDIATION_ACTION = "remediationAction"


class FirstInstanceEventProp(object):
    """
    Property names of a first instance event (see
    :class:`dxltieclient.callbacks.FirstInstanceCallback`).

    +-------------+---------------+-------------------------------------------+
    | Name        | Value         | Meaning                                   |
    +=============+===============+===========================================+
    | SYSTEM_GUID | ``agentGuid`` | the GUID of the system                    |
    +-------------+---------------+-------------------------------------------+
    | HASHES      | ``hashes``    | the hashes of the file (``{type: hex}``)  |
    +-------------+---------------+-------------------------------------------+
    | NAME        | ``name``      | the name of the file                      |
    +-------------+---------------+-------------------------------------------+
    """

    #: The system's GUID
    SYSTEM_GUID = "agentGuid"
    #: The hashes of the file
    HASHES = "hashes"
    #: The file name
    NAME = "name"


class FileType(object):
    """
    File types of an external reputation report (the ``file_type`` argument of
    :meth:`~dxltieclient.client.TieClient.set_external_file_reputation`). The values are bit-flag
    combinations defined by TIE; use the names.
    """

    #: No type
    NONE = 0
    #: COM executable
    COM = 1
    #: Executable
    EXE = 2
    #: Driver
    DRV = 4
    #: Boot sector
    BOOT = 8
    #: Portable executable
    PE = 16
    #: Portable executable program
    PEEXE = 18
    #: Virtual device driver
    VXD = 64
    #: Non-PE library
    DLLNONPE = 128
    #: Dynamic link library
    DLL = 144
    #: Windows executable
    WIN = 272
    #: MZ stub
    MZSTUB = 512
    #: NetWare loadable module
    NLM = 1024
    #: ELF binary
    ELF = 2048
    #: JavaScript
    JS = 4096
    #: VBScript
    VBS = 8192
    #: Script
    SCRIPT = 12288
    #: OLE document
    OLE = 16384
    #: Picture
    PIC = 65536
    #: Text
    TEXT = 131072
    #: Batch file
    BAT = 143360
    #: HTML
    HTML = 262144
    #: HTML text
    HTMLTEXT = 393216
    #: HTML application
    HTA = 524288
    #: Rich text
    RTF = 1048576
    #: PDF document
    PDF = 2097152
    #: Multimedia
    MMEDIA = 4194304
    #: URL
    URL = 8388608
    #: System file
    SYS = 16777232
    #: ZIP archive
    ZIP = 33587200
    #: Cabinet archive
    CAB = 67141632
    #: RAR (not an archive)
    RARNOARC = 134217728
    #: RAR archive
    RAR = 134250496
    #: Office Open XML
    OOXML = 167772160
    #: Office Open XML package
    OOXMLPK = 301989888
    #: Mach-O binary
    MACHO = 536870912
    #: Android package
    APK = 1073741824
    #: Java class
    CLASS = 2147483648
    #: Java archive
    JAR = 4328554496
