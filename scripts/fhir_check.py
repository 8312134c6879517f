#!/usr/bin/env python3
"""Checks a FHIR R4 server (zvp-mock-epd) with FHIR libraries that we did not write.

Run it with the python of the venv that scripts/python-env makes:

    PY=$(scripts/python-env)
    "$PY" scripts/fhir_check.py http://127.0.0.1:PORT/fhir

Why: zvp-mock-epd writes its FHIR JSON by hand (serde_json). Our own Rust tests can only
check it against what we believe FHIR says; this script checks it against two independent
implementations of the spec:

  * fhir.resources (pydantic models generated from the FHIR StructureDefinitions). Its R4B
    models are used: fhir.resources has no R4 (4.0.1) package, and R4B (4.3) is R4 plus a
    few additions (new resources and elements), so an R4 resource that fails R4B is wrong,
    though R4B can accept an element that R4 does not have. It checks element names,
    cardinality, primitive formats (dates, ids, ...) and the primitive extensions
    (`_family`, `_given`, ...), but NOT code bindings: a `status` or `gender` outside its
    value set passes. The code bindings are therefore checked here, against value sets
    copied from the R4 spec (see CODE_RULES and CONCEPT_RULES below).
  * fhirclient (smart-on-fhir, the Python client whose models are generated from R4 4.0.1):
    every resource is also loaded into its strict R4 model, which catches what R4B allows
    and R4 does not, and JSON types that fhir.resources (pydantic, lax mode) quietly coerces
    ("true" for a boolean, "8.1" for a decimal). Then it is used as a real client would
    use it: read, search, paging. Its models are strict about element names, JSON types,
    required elements and date formats, but not about id formats nor the content of `_x`
    primitive extensions.

What it does, against the synthetic hospital:

  a. GET /metadata: a CapabilityStatement (fhir.resources R4B and fhirclient R4), fhirVersion
     4.0.x, JSON, and it declares the resource types, interactions, search parameters and
     includes used below.
  b. Finds inpatients (in-progress IMP encounters of the patients of demo GP AGB 01012345,
     with their Patient and Consent resources) and recent discharges; takes up to 5 patients.
  c. For each patient, runs the searches a portal does (following `next` links), validates
     every resource found and checks that the server honoured the search (patient, class,
     status, category, code, sort order, includes); reads Patient/{id}, a DocumentReference,
     and finds the patient again by BSN.
  d. Checks the codes of the required bindings against the R4 value sets.
  e. Reads the same data with fhirclient and checks that it agrees with the raw JSON.

Output: one line per check group on stdout, then a summary line. Exit status: 0 when
everything passed; 1 when a check failed (every problem is printed to stderr, not just the
first); 2 when the server cannot be reached, a request fails at the network level or times
out (30 s a request, ZVP_FHIR_CHECK_DEADLINE seconds for the whole run, 600 by default), or
on bad usage. HTTP uses only the standard library (urllib), with `Accept: application/fhir+json`.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import fhir.resources
import fhirclient
import pydantic
import requests
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.quantity import Quantity as R4BQuantity
from fhir.resources.R4B.resource import Resource as R4BResource
from fhirclient import client as fhir_client
from fhirclient.models.capabilitystatement import CapabilityStatement as FcCapabilityStatement
from fhirclient.models.encounter import Encounter as FcEncounter
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirclient.models.observation import Observation as FcObservation
from fhirclient.models.patient import Patient as FcPatient

TIMEOUT = 30  # seconds, for every request
MAX_PAGES = 50  # per search
MAX_PATIENTS = 5
# A small page size (_count) on the encounter and lab-series searches, so that `next` links are
# followed for real: the server's default page is larger than one patient's data.
SMALL_PAGE = "3"
DEADLINE = int(os.environ.get("ZVP_FHIR_CHECK_DEADLINE", "600"))  # seconds, whole run
FHIR_JSON = "application/fhir+json"

BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
AGB = "http://fhir.nl/fhir/NamingSystem/agb-z"
DEMO_GP_AGB = "01012345"
LOINC = "http://loinc.org"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
REPORT_CATEGORIES = ["LAB", "MB", "SP", "RAD"]

# Types that must have been validated at least once over the sampled patients.
REQUIRED_TYPES = [
    "Patient", "Encounter", "Appointment", "ServiceRequest", "AllergyIntolerance",
    "ClinicalImpression", "Condition", "MedicationStatement", "DocumentReference",
    "DiagnosticReport", "Observation", "Bundle", "CapabilityStatement",
]
# Of these, a sample of patients may just not have any: a note, not a failure.
OPTIONAL_IN_SAMPLE = {"AllergyIntolerance"}

# ---------------------------------------------------------------------------------------
# Code bindings (R4 4.0.1 value sets, copied from the spec). fhir.resources does not check
# them. Keys are element paths without indices, either from the resource ("Patient.gender")
# or from a data type, wherever that type occurs ("HumanName.use").

_GENDER = {"male", "female", "other", "unknown"}
_ENCOUNTER_STATUS = {"planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                     "cancelled", "entered-in-error", "unknown"}
_EVENT_STATUS = {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                 "entered-in-error", "unknown"}
_REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error",
                   "unknown"}
_OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected",
                       "cancelled", "entered-in-error", "unknown"}
_UNITS_OF_TIME = {"s", "min", "h", "d", "wk", "mo", "a"}

CODE_RULES: dict[str, set[str]] = {
    "Patient.gender": _GENDER,
    "Patient.contact.gender": _GENDER,
    "Patient.link.type": {"replaced-by", "replaces", "refer", "seealso"},
    "Encounter.status": _ENCOUNTER_STATUS,
    "Encounter.statusHistory.status": _ENCOUNTER_STATUS,
    "Encounter.location.status": {"planned", "active", "reserved", "completed"},
    "Appointment.status": {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled",
                           "noshow", "entered-in-error", "checked-in", "waitlist"},
    "Appointment.participant.status": {"accepted", "declined", "tentative", "needs-action"},
    "Appointment.participant.required": {"required", "optional", "information-only"},
    "Procedure.status": _EVENT_STATUS,
    "ServiceRequest.status": _REQUEST_STATUS,
    "ServiceRequest.intent": {"proposal", "plan", "directive", "order", "original-order",
                              "reflex-order", "filler-order", "instance-order", "option"},
    "ServiceRequest.priority": {"routine", "urgent", "asap", "stat"},
    "AllergyIntolerance.type": {"allergy", "intolerance"},
    "AllergyIntolerance.category": {"food", "medication", "environment", "biologic"},
    "AllergyIntolerance.criticality": {"low", "high", "unable-to-assess"},
    "AllergyIntolerance.reaction.severity": {"mild", "moderate", "severe"},
    "ClinicalImpression.status": {"in-progress", "completed", "entered-in-error"},
    "MedicationStatement.status": {"active", "completed", "entered-in-error", "intended",
                                   "stopped", "on-hold", "unknown", "not-taken"},
    "DocumentReference.status": {"current", "superseded", "entered-in-error"},
    "DocumentReference.docStatus": {"preliminary", "final", "amended", "entered-in-error"},
    "DocumentReference.relatesTo.code": {"replaces", "transforms", "signs", "appends"},
    "DiagnosticReport.status": _OBSERVATION_STATUS | {"partial", "appended"},
    "Observation.status": _OBSERVATION_STATUS,
    "Consent.status": {"draft", "proposed", "active", "rejected", "inactive",
                       "entered-in-error"},
    "Consent.provision.type": {"deny", "permit"},
    "Consent.provision.provision.type": {"deny", "permit"},
    "Bundle.type": {"document", "message", "transaction", "transaction-response", "batch",
                    "batch-response", "history", "searchset", "collection"},
    "Bundle.entry.search.mode": {"match", "include", "outcome"},
    "CapabilityStatement.status": {"draft", "active", "retired", "unknown"},
    "CapabilityStatement.kind": {"instance", "capability", "requirements"},
    "CapabilityStatement.rest.mode": {"client", "server"},
    "CapabilityStatement.rest.resource.interaction.code": {
        "read", "vread", "update", "patch", "delete", "history-instance", "history-type",
        "create", "search-type"},
    "CapabilityStatement.rest.interaction.code": {"transaction", "batch", "search-system",
                                                  "history-system"},
    "CapabilityStatement.rest.resource.searchParam.type": {
        "number", "date", "string", "token", "reference", "composite", "quantity", "uri",
        "special"},
    "CapabilityStatement.rest.searchParam.type": {
        "number", "date", "string", "token", "reference", "composite", "quantity", "uri",
        "special"},
    # Data types, wherever they occur.
    "HumanName.use": {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"},
    "Identifier.use": {"usual", "official", "temp", "secondary", "old"},
    "ContactPoint.system": {"phone", "fax", "email", "pager", "url", "sms", "other"},
    "ContactPoint.use": {"home", "work", "temp", "old", "mobile"},
    "Address.use": {"home", "work", "temp", "old", "billing"},
    "Address.type": {"postal", "physical", "both"},
    "Narrative.status": {"generated", "extensions", "additional", "empty"},
    "Quantity.comparator": {"<", "<=", ">=", ">"},
    "Timing.repeat.durationUnit": _UNITS_OF_TIME,
    "Timing.repeat.periodUnit": _UNITS_OF_TIME,
    "Timing.repeat.dayOfWeek": {"mon", "tue", "wed", "thu", "fri", "sat", "sun"},
}

# CodeableConcepts bound to a code system: path -> (system, codes, required). With a required
# binding the concept must carry a coding of that system; with an extensible one only the
# codings of that system are checked.
CONCEPT_RULES: dict[str, tuple[str, set[str], bool]] = {
    "AllergyIntolerance.clinicalStatus": (
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
        {"active", "inactive", "resolved"}, True),
    "AllergyIntolerance.verificationStatus": (
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        {"unconfirmed", "confirmed", "refuted", "entered-in-error"}, True),
    "Condition.clinicalStatus": (
        "http://terminology.hl7.org/CodeSystem/condition-clinical",
        {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}, True),
    "Condition.verificationStatus": (
        "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        {"unconfirmed", "provisional", "differential", "confirmed", "refuted",
         "entered-in-error"}, True),
    # Extensible binding; these are the interpretation codes the mock emits, all in the R4
    # value set (which has more: add a code here after checking it there).
    "Observation.interpretation": (
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        {"L", "H", "LL", "HH", "A", "N", "S", "I", "R"}, False),
    "Observation.component.interpretation": (
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        {"L", "H", "LL", "HH", "A", "N", "S", "I", "R"}, False),
}

# Data types whose rules apply wherever they occur (Quantity covers Age, Duration, ...).
DATATYPE_ROOTS = {"HumanName", "Identifier", "ContactPoint", "Address", "Narrative", "Timing"}


class NetworkError(Exception):
    """The server could not be reached or did not answer in time (exit 2)."""


class CheckFailed(Exception):
    """A request gave an answer that stops the current check (already a problem)."""


class Deadline(BaseException):
    """The whole run took longer than DEADLINE (a BaseException, so that no `except
    Exception` on the way swallows it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise Deadline()


# ---------------------------------------------------------------------------------------
# Small helpers on raw JSON.

def ref_id(reference: Any, resource_type: str) -> str | None:
    """The id in a reference to `resource_type` ("Patient/1" or ".../fhir/Patient/1")."""
    if not isinstance(reference, dict):
        return None
    value = reference.get("reference")
    if not isinstance(value, str):
        return None
    parts = value.split("/")
    if len(parts) >= 2 and parts[-2] == resource_type:
        return parts[-1]
    return None


def patient_refs(resource: dict) -> list[str]:
    """The ids of the patients a resource is about (subject, patient, participant.actor)."""
    refs = [resource.get("subject"), resource.get("patient")]
    refs += [p.get("actor") for p in resource.get("participant", []) if isinstance(p, dict)]
    return [i for i in (ref_id(r, "Patient") for r in refs) if i]


def codings(concept: Any) -> list[dict]:
    if isinstance(concept, dict):
        return [c for c in concept.get("coding", []) if isinstance(c, dict)]
    return []


def has_coding(concepts: Any, system: str, code: str) -> bool:
    if isinstance(concepts, dict):
        concepts = [concepts]
    if not isinstance(concepts, list):
        return False
    return any(c.get("system") == system and c.get("code") == code
               for concept in concepts for c in codings(concept))


def bsn_of(patient: dict) -> str | None:
    for identifier in patient.get("identifier", []):
        if isinstance(identifier, dict) and identifier.get("system") == BSN:
            return identifier.get("value")
    return None


def families_of(names: list) -> list[str | None]:
    return [n.get("family") if isinstance(n, dict) else getattr(n, "family", None)
            for n in names or []]


def when(resource: dict) -> str | None:
    """The clinically relevant time of an Observation, for the date sort order."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if isinstance(resource.get(key), str):
            return resource[key]
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        return period.get("start") or period.get("end")
    return None


def label(resource: Any) -> str:
    if isinstance(resource, dict):
        return f"{resource.get('resourceType', '?')}/{resource.get('id', '(no id)')}"
    return "(not a JSON object)"


def fhirclient_errors(error: BaseException, path: str = "") -> Iterator[str]:
    """The leaves of a fhirclient FHIRValidationError tree, as "path: message" lines."""
    if isinstance(error, FHIRValidationError):
        here = ".".join(p for p in (path, error.path) if p)
        for sub in error.errors:
            yield from fhirclient_errors(sub, here)
        return
    # fhirclient names the model object by its repr: keep the class name only.
    message = re.sub(r"<fhirclient\.models\.[\w.]+\.(\w+) object at 0x[0-9a-f]+>", r"\1",
                     str(error).strip("'\""))
    message = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", message)
    yield f"{path or '(resource)'}: {message}"


def format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(resource)"


class Search:
    """The result of one search, all pages together."""

    def __init__(self, describe: str):
        self.describe = describe
        self.matches: list[dict] = []
        self.includes: list[dict] = []
        self.pages = 0
        self.totals: list[int] = []
        self.complete = True

    def included(self, resource_type: str) -> dict[str, dict]:
        return {r.get("id"): r for r in self.includes + self.matches
                if r.get("resourceType") == resource_type}


class Checker:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.base_parts = urllib.parse.urlsplit(self.base)
        self.problems: list[str] = []
        self.binding_problems: list[str] = []  # reported by their own group, see d.
        self.counts: Counter[str] = Counter()
        self.codes_checked = 0
        self.requests = 0
        self.seen: dict[str, bool] = {}  # canonical JSON -> valid, so each is checked once
        self.content_types: set[str] = set()  # wrong Content-Types already reported
        self.notes: list[str] = []
        self.group = ""

    # ---- bookkeeping --------------------------------------------------------------------

    def fail(self, message: str) -> None:
        self.problems.append(f"[{self.group}] {message}")

    @contextmanager
    def check_group(self, name: str, details: Callable[[], str] | None = None) -> Iterator[None]:
        """One line of output per group; a CheckFailed ends the group, not the run."""
        self.group = name
        before = len(self.problems)
        try:
            yield
        except CheckFailed:
            pass
        found = len(self.problems) - before
        extra = details() if details else ""
        if found:
            line = f"{name}: FAILED ({found} problem{'s' if found != 1 else ''})"
        else:
            line = f"{name}: ok" + (f" ({extra})" if extra else "")
        print(f"fhir-check: {line}", flush=True)

    # ---- HTTP ---------------------------------------------------------------------------

    def url(self, path: str, params: list[tuple[str, str]] | None = None) -> str:
        url = f"{self.base}/{path}"
        if params:
            # Values fully encoded ('|' -> %7C, ':' -> %3A, '/' -> %2F); names keep ':' and '.'
            # readable (they are plain ASCII tokens such as `_revinclude:iterate`).
            url += "?" + "&".join(
                f"{urllib.parse.quote(k, safe=':.')}={urllib.parse.quote(v, safe='')}"
                for k, v in params)
        return url

    def get(self, url: str) -> dict:
        """GET a URL and return its JSON object. HTTP or format errors: a problem and
        CheckFailed. Network errors: NetworkError."""
        self.requests += 1
        request = urllib.request.Request(url, headers={"Accept": FHIR_JSON})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                body = response.read()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            detail = ""
            try:
                outcome = json.loads(e.read() or b"{}")
                detail = "; ".join(i.get("diagnostics", "") or json.dumps(i.get("details", ""))
                                   for i in outcome.get("issue", []))
            except Exception:
                pass
            self.fail(f"GET {url}: HTTP {e.code} {e.reason}" + (f": {detail}" if detail else ""))
            raise CheckFailed() from None
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, resets
            reason = getattr(e, "reason", None) or e
            raise NetworkError(f"GET {url}: {reason}") from None
        mime = content_type.split(";")[0].strip().lower()
        if mime != FHIR_JSON and content_type not in self.content_types:
            self.content_types.add(content_type)  # once, not for every response
            self.fail(f"GET {url}: Content-Type is {content_type!r}, expected {FHIR_JSON} "
                      f"(not reported again for later responses)")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            self.fail(f"GET {url}: the body is not JSON ({e})")
            raise CheckFailed() from None
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            self.fail(f"GET {url}: the body is not a FHIR resource (no resourceType)")
            raise CheckFailed()
        return data

    # ---- validation ---------------------------------------------------------------------

    def validate(self, resource: dict, where: str) -> bool:
        """Validates a resource with its fhir.resources R4B class and checks its code
        bindings. Counts it once per distinct JSON. Of a Bundle only the Bundle itself is
        validated here: the caller validates its entries' resources one by one."""
        key = json.dumps(resource, sort_keys=True)
        if key in self.seen:
            return self.seen[key]
        rtype = resource.get("resourceType")
        who = label(resource)
        try:
            model_class = get_fhir_model_class(rtype)
        except KeyError:
            self.fail(f"{who}: unknown resourceType {rtype!r} (in {where})")
            self.seen[key] = False
            return False
        if "id" not in resource and rtype != "Bundle":  # a search result Bundle needs none
            self.fail(f"{who}: a resource served by the server has no id (in {where})")
        if rtype == "Bundle" and isinstance(resource.get("entry"), list):
            # Entries without their resources (Bundle.entry.resource is 0..1).
            resource = dict(resource, entry=[
                {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
                for e in resource["entry"]])
        # fhir.resources, R4B. (R4B is R4 plus a few additions, so this is not R4 itself, and
        # it does not check code bindings: check_bindings does.) fhir.resources 8 (pydantic 2)
        # has model_validate; parse_obj is its deprecated alias.
        parse = getattr(model_class, "model_validate", None) or model_class.parse_obj
        model = None
        try:
            model = parse(resource)
        except pydantic.ValidationError as e:
            for err in e.errors():
                self.fail(f"{who}: {format_loc(err['loc'])}: {err['msg']} (in {where})")
        # fhirclient's R4 (4.0.1) models, strict: they catch what R4B has and R4 has not, and
        # JSON types that fhir.resources coerces ("true" for a boolean, "8.1" for a decimal).
        r4_valid = True
        try:
            FHIRElementFactory.instantiate(rtype, resource)
        except FHIRValidationError as e:
            r4_valid = False
            for line in fhirclient_errors(e):
                self.fail(f"{who}: fhirclient (R4) rejects {line} (in {where})")
        if model is not None:
            self.check_bindings(model, rtype, who)
        valid = model is not None and r4_valid
        if valid:
            self.counts[rtype] += 1
        self.seen[key] = valid
        return valid

    def check_bindings(self, model: Any, rtype: str, who: str) -> None:
        """Walks a validated model and checks the codes of CODE_RULES and CONCEPT_RULES."""

        def walk(obj: Any, rpath: str, tpath: str | None, shown: str) -> None:
            name = type(obj).__name__
            if isinstance(obj, R4BQuantity):
                tpath = "Quantity"
            elif name in DATATYPE_ROOTS:
                tpath = name
            if name == "CodeableConcept" and rpath in CONCEPT_RULES:
                self.check_concept(obj, rpath, who, shown)
            for field, info in type(obj).model_fields.items():
                value = getattr(obj, field, None)
                if value is None:
                    continue
                json_name = info.alias or field
                if json_name == "resourceType":
                    continue
                is_list = isinstance(value, list)
                for i, item in enumerate(value if is_list else [value]):
                    sub_shown = f"{shown}.{json_name}" + (f"[{i}]" if is_list else "")
                    sub_r = f"{rpath}.{json_name}"
                    sub_t = f"{tpath}.{json_name}" if tpath else None
                    if isinstance(item, R4BResource):  # contained resources
                        walk(item, type(item).__name__, None, sub_shown)
                    elif isinstance(item, pydantic.BaseModel):
                        walk(item, sub_r, sub_t, sub_shown)
                    elif isinstance(item, str):
                        for path in (sub_r, sub_t):
                            if path in CODE_RULES:
                                self.codes_checked += 1
                                if item not in CODE_RULES[path]:
                                    allowed = "|".join(sorted(CODE_RULES[path]))
                                    self.binding_problems.append(
                                        f"{who}: {sub_shown} = {item!r} is not "
                                        f"in the R4 value set of {path} ({allowed})")

        walk(model, rtype, None, rtype)

    def check_concept(self, concept: Any, path: str, who: str, shown: str) -> None:
        system, codes, required = CONCEPT_RULES[path]
        ours = [c for c in (concept.coding or []) if c.system == system]
        self.codes_checked += 1
        if required and not ours:
            self.binding_problems.append(f"{who}: {shown} has no coding of {system} "
                                 f"(required binding)")
        for coding in ours:
            if coding.code not in codes:
                self.binding_problems.append(
                    f"{who}: {shown}.coding code {coding.code!r} of {system} "
                    f"is not in the value set of {path} ({'|'.join(sorted(codes))})")

    # ---- searches -----------------------------------------------------------------------

    def search(self, path: str, params: list[tuple[str, str]], match_type: str,
               matches: Callable[[dict], str | None] | None = None) -> Search:
        """Runs a search, following `next` links, and validates every page and resource.
        `matches` returns why a matched resource does not fit the search (or None)."""
        url = self.url(path, params)
        result = Search(f"GET {url}")
        seen_urls = set()
        while url:
            if result.pages >= MAX_PAGES:
                self.fail(f"{result.describe}: more than {MAX_PAGES} pages; stopped following")
                result.complete = False
                break
            seen_urls.add(url)
            bundle = self.get(url)
            result.pages += 1
            where = f"GET {url}"
            if bundle.get("resourceType") != "Bundle":
                self.fail(f"{where}: a search answered with {label(bundle)}, not a Bundle")
                raise CheckFailed()
            self.validate(bundle, where)
            if bundle.get("type") != "searchset":
                self.fail(f"{where}: Bundle.type is {bundle.get('type')!r}, not 'searchset'")
            if isinstance(bundle.get("total"), int):
                result.totals.append(bundle["total"])
            for i, entry in enumerate(bundle.get("entry") or []):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict):
                    self.fail(f"{where}: entry[{i}] has no resource")
                    continue
                self.validate(resource, where)
                rtype, rid = resource.get("resourceType"), resource.get("id")
                full_url = entry.get("fullUrl")
                if isinstance(full_url, str) and not full_url.startswith("urn:") \
                        and not full_url.endswith(f"/{rtype}/{rid}"):
                    self.fail(f"{where}: entry[{i}].fullUrl {full_url!r} does not end in "
                              f"{rtype}/{rid}")
                mode = (entry.get("search") or {}).get("mode")
                if mode is None:
                    mode = "match" if rtype == match_type else "include"
                if mode == "match":
                    if rtype != match_type:
                        self.fail(f"{where}: entry[{i}] {label(resource)} has search.mode match "
                                  f"but the search is for {match_type}")
                        continue
                    result.matches.append(resource)
                    why = matches(resource) if matches else None
                    if why:
                        self.fail(f"{where}: {label(resource)} does not match the search: {why}")
                elif mode == "include":
                    result.includes.append(resource)
            url = self.next_link(bundle, where, seen_urls)
        if result.complete:
            for total in set(result.totals):
                if total != len(result.matches):
                    self.fail(f"{result.describe}: Bundle.total is {total} but the pages hold "
                              f"{len(result.matches)} matches")
        return result

    def next_link(self, bundle: dict, where: str, seen_urls: set[str]) -> str | None:
        links = [link for link in bundle.get("link") or []
                 if isinstance(link, dict) and link.get("relation") == "next"]
        if not links:
            return None
        link = links[0].get("url")
        if not isinstance(link, str) or not link:
            self.fail(f"{where}: the next link has no url")
            return None
        parts = urllib.parse.urlsplit(link)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # fhirclient refuses relative next links (ValueError), and so do other clients.
            self.fail(f"{where}: next link {link!r} is not an absolute http(s) URL")
            link = urllib.parse.urljoin(self.base + "/", link)
            parts = urllib.parse.urlsplit(link)
        if (parts.scheme, parts.netloc) != (self.base_parts.scheme, self.base_parts.netloc) \
                or not parts.path.startswith(self.base_parts.path):
            self.fail(f"{where}: next link {link!r} is not under the base URL {self.base}; "
                      f"not following it")
            return None
        if link in seen_urls:
            self.fail(f"{where}: next link {link!r} goes back to a page already read (loop)")
            return None
        return link

    def try_search(self, *args: Any, **kwargs: Any) -> Search | None:
        """A search whose HTTP failure is a problem but does not end the group."""
        try:
            return self.search(*args, **kwargs)
        except CheckFailed:
            return None

    def read(self, rtype: str, rid: str) -> dict | None:
        """GET {type}/{id}: a single resource (not a Bundle), validated."""
        url = self.url(f"{rtype}/{urllib.parse.quote(rid, safe='')}")
        try:
            resource = self.get(url)
        except CheckFailed:
            return None
        if resource.get("resourceType") != rtype or resource.get("id") != rid:
            self.fail(f"GET {url}: answered with {label(resource)}")
            return None
        self.validate(resource, f"GET {url}")
        return resource


# ---------------------------------------------------------------------------------------
# The checks, in order.

def check_metadata(c: Checker) -> dict | None:
    """a. The CapabilityStatement, with both libraries."""
    statement: dict | None = None
    with c.check_group("metadata", lambda: f"fhirVersion {statement.get('fhirVersion')}"
                       if statement else ""):
        statement = c.get(c.url("metadata"))
        where = f"GET {c.url('metadata')}"
        if statement.get("resourceType") != "CapabilityStatement":
            c.fail(f"{where}: answered with {label(statement)}, not a CapabilityStatement")
            raise CheckFailed()
        c.validate(statement, where)
        try:  # (validate() did this through the factory too; this is the named class)
            FcCapabilityStatement(statement, strict=True)
        except FHIRValidationError as e:
            for line in fhirclient_errors(e):
                c.fail(f"{where}: fhirclient (R4) rejects the CapabilityStatement: {line}")
        version = statement.get("fhirVersion")
        if not (isinstance(version, str) and version.startswith("4.0.")):
            c.fail(f"{where}: fhirVersion is {version!r}, not R4 (4.0.x)")
        formats = statement.get("format") or []
        if not any(f in ("json", FHIR_JSON) for f in formats):
            c.fail(f"{where}: format {formats!r} does not list json")
    return statement


# What the searches below need the server to declare: type -> (interactions, search
# parameters, _include values, _revinclude values).
DECLARED: dict[str, tuple[set[str], set[str], set[str], set[str]]] = {
    "Patient": ({"read", "search-type"}, {"identifier", "general-practitioner"}, set(),
                {"Consent:patient"}),
    "Encounter": ({"search-type"}, {"patient", "class", "status", "date"},
                  {"Encounter:patient"}, {"Consent:patient"}),
    "Appointment": ({"search-type"}, {"patient"}, set(), set()),
    "Procedure": ({"search-type"}, {"patient"}, set(), set()),
    "ServiceRequest": ({"search-type"}, {"patient"}, set(), set()),
    "AllergyIntolerance": ({"search-type"}, {"patient"}, set(), set()),
    "ClinicalImpression": ({"search-type"}, {"patient"}, set(), set()),
    "Condition": ({"search-type"}, {"patient"}, set(), set()),
    "MedicationStatement": ({"search-type"}, {"patient"}, set(), set()),
    "DocumentReference": ({"read", "search-type"}, {"patient"}, set(), set()),
    "DiagnosticReport": ({"search-type"}, {"patient", "category"},
                         {"DiagnosticReport:result"}, set()),
    "Observation": ({"search-type"}, {"patient", "code", "date"}, set(), set()),
    "Consent": ({"search-type"}, {"patient"}, set(), set()),
}


def check_capabilities(c: Checker, statement: dict | None) -> None:
    """a (cont.). The statement declares what the checks below use."""
    with c.check_group("capabilities", lambda: f"{len(DECLARED)} resource types declared"):
        if statement is None:
            c.fail("no CapabilityStatement to check")
            return
        servers = [r for r in statement.get("rest") or [] if r.get("mode") == "server"]
        if not servers:
            c.fail("CapabilityStatement has no rest entry with mode server")
            return
        declared = {r.get("type"): r for r in servers[0].get("resource") or []}
        for rtype, (interactions, params, includes, revincludes) in DECLARED.items():
            entry = declared.get(rtype)
            if entry is None:
                c.fail(f"CapabilityStatement.rest.resource does not declare {rtype}")
                continue
            have = {i.get("code") for i in entry.get("interaction") or []}
            names = {p.get("name") for p in entry.get("searchParam") or []}
            inc = set(entry.get("searchInclude") or [])
            revinc = set(entry.get("searchRevInclude") or [])
            for what, want, got in (("interaction", interactions, have),
                                    ("searchParam", params, names),
                                    ("searchInclude", includes, inc),
                                    ("searchRevInclude", revincludes, revinc)):
                for missing in sorted(want - got):
                    c.fail(f"CapabilityStatement: {rtype} does not declare {what} {missing}")


def check_admissions(c: Checker) -> list[str]:
    """b. The inpatients of the demo GP, with Patient and Consent included; and recent
    discharges. Returns up to MAX_PATIENTS patient ids."""
    patient_ids: list[str] = []
    found = Search("")

    def encounter_fits(status: str, since: str | None = None) -> Callable[[dict], str | None]:
        def fits(encounter: dict) -> str | None:
            if (encounter.get("class") or {}).get("code") != "IMP":
                return f"class is {encounter.get('class')!r}, not IMP"
            if encounter.get("status") != status:
                return f"status is {encounter.get('status')!r}, not {status}"
            if not patient_refs(encounter):
                return "subject is not a Patient reference"
            if since:
                period = encounter.get("period") or {}
                latest = max(str(period.get(k) or "") for k in ("start", "end"))
                if period.get("end") and latest[:10] < since:
                    return f"period {period} ends before {since}"
            return None
        return fits

    def check_includes(result: Search, gp: bool) -> None:
        patients = result.included("Patient")
        for encounter in result.matches:
            for pid in patient_refs(encounter):
                patient = patients.get(pid)
                if patient is None:
                    c.fail(f"{result.describe}: _include=Encounter:patient left out Patient/{pid} "
                           f"(subject of {label(encounter)})")
                elif gp and not any(
                        (g.get("identifier") or {}).get("system") == AGB
                        and (g.get("identifier") or {}).get("value") == DEMO_GP_AGB
                        for g in patient.get("generalPractitioner") or []):
                    c.fail(f"{result.describe}: Patient/{pid} does not have general practitioner "
                           f"AGB {DEMO_GP_AGB}, yet its encounter matched the chained search")
        for consent in result.included("Consent").values():
            if not any(pid in patients for pid in patient_refs(consent)):
                c.fail(f"{result.describe}: {label(consent)} is included but is not about an "
                       f"included Patient")

    with c.check_group("inpatients of GP", lambda: f"{len(found.matches)} encounters, "
                       f"{len(found.included('Patient'))} patients, "
                       f"{len(found.included('Consent'))} consents, {found.pages} page(s)"):
        found = c.search("Encounter", [
            ("class", "IMP"), ("status", "in-progress"),
            ("patient.general-practitioner:identifier", f"{AGB}|{DEMO_GP_AGB}"),
            ("_include", "Encounter:patient"), ("_revinclude:iterate", "Consent:patient"),
        ], "Encounter", encounter_fits("in-progress"))
        check_includes(found, gp=True)
        for encounter in found.matches:
            for pid in patient_refs(encounter):
                if pid not in patient_ids and len(patient_ids) < MAX_PATIENTS:
                    patient_ids.append(pid)
        if not patient_ids:
            c.fail(f"{found.describe}: no in-progress inpatient encounters for GP {DEMO_GP_AGB}; "
                   f"nothing to check the patient data with")

    since = (datetime.date.today() - datetime.timedelta(days=60)).isoformat()
    discharged = Search("")
    with c.check_group("recent discharges", lambda: f"{len(discharged.matches)} encounters "
                       f"since {since}, {discharged.pages} page(s)"):
        discharged = c.search("Encounter", [
            ("class", "IMP"), ("status", "finished"),
            ("patient.general-practitioner:identifier", f"{AGB}|{DEMO_GP_AGB}"),
            ("date", f"ge{since}"),
            ("_include", "Encounter:patient"), ("_revinclude:iterate", "Consent:patient"),
        ], "Encounter", encounter_fits("finished", since))
        check_includes(discharged, gp=True)
    return patient_ids


class PatientData:
    """What the patient searches found, for the later checks."""

    def __init__(self) -> None:
        self.patients: dict[str, dict] = {}  # id -> Patient from GET Patient/{id}
        self.encounter_counts: dict[str, int] = {}
        self.observations: dict[str, tuple[str, list[dict]]] = {}  # id -> (LOINC, results)
        self.searches = 0
        self.pages = 0


def check_patient_data(c: Checker, patient_ids: list[str]) -> PatientData:
    """c. Every search of a portal, per patient; every resource validated."""
    data = PatientData()
    with c.check_group("patient data", lambda: f"{len(patient_ids)} patients, {data.searches} "
                       f"searches, {data.pages} pages"):
        if not patient_ids:
            c.fail("no patients to check")
            return data
        for pid in patient_ids:
            check_one_patient(c, pid, data)
    return data


def check_one_patient(c: Checker, pid: str, data: PatientData) -> None:
    def about_patient(extra: Callable[[dict], str | None] | None = None
                      ) -> Callable[[dict], str | None]:
        def fits(resource: dict) -> str | None:
            refs = patient_refs(resource)
            if pid not in refs:
                return f"it is not about Patient/{pid} (patient references: {refs})"
            return extra(resource) if extra else None
        return fits

    def run(path: str, params: list[tuple[str, str]], match_type: str,
            fits: Callable[[dict], str | None] | None = None) -> Search | None:
        result = c.try_search(path, params, match_type, fits or about_patient())
        data.searches += 1
        if result:
            data.pages += result.pages
        return result

    # The patient, with its treatment restrictions; and read directly.
    def is_patient(p: dict) -> str | None:
        return None if p.get("id") == pid else f"id is not {pid}"

    by_id = run("Patient", [("_id", pid), ("_revinclude", "Consent:patient")], "Patient",
                is_patient)
    patient = c.read("Patient", pid)
    if by_id is not None:
        if len(by_id.matches) != 1:
            c.fail(f"{by_id.describe}: {len(by_id.matches)} matches, expected exactly 1")
        for consent in by_id.included("Consent").values():
            if pid not in patient_refs(consent):
                c.fail(f"{by_id.describe}: included {label(consent)} is not about Patient/{pid}")
        if patient is not None and by_id.matches:
            strip = lambda r: {k: v for k, v in r.items() if k != "meta"}  # noqa: E731
            if strip(by_id.matches[0]) != strip(patient):
                c.fail(f"Patient/{pid}: the read and the search by _id give different content")
    if patient is not None:
        data.patients[pid] = patient

    encounters = run("Encounter", [("patient", pid), ("class", "IMP"), ("_count", SMALL_PAGE)],
                     "Encounter",
                     about_patient(lambda e: None if (e.get("class") or {}).get("code") == "IMP"
                                   else f"class is {e.get('class')!r}, not IMP"))
    if encounters is not None:
        data.encounter_counts[pid] = len(encounters.matches)
    for rtype in ("Appointment", "Procedure", "ServiceRequest", "AllergyIntolerance",
                  "ClinicalImpression", "Condition", "MedicationStatement", "Consent"):
        run(rtype, [("patient", pid)], rtype)

    documents = run("DocumentReference", [("patient", pid)], "DocumentReference")
    if documents is not None and documents.matches:
        c.read("DocumentReference", str(documents.matches[0].get("id")))

    # Reports per category, with their results included.
    lab_code: str | None = None
    for category in REPORT_CATEGORIES:
        def in_category(report: dict, category: str = category) -> str | None:
            if has_coding(report.get("category"), V2_0074, category):
                return None
            return f"category {report.get('category')!r} lacks {V2_0074}|{category}"

        reports = run("DiagnosticReport", [
            ("patient", pid), ("category", f"{V2_0074}|{category}"),
            ("_include", "DiagnosticReport:result"),
        ], "DiagnosticReport", about_patient(in_category))
        if reports is None:
            continue
        observations = reports.included("Observation")
        for report in reports.matches:
            for result in report.get("result") or []:
                oid = ref_id(result, "Observation")
                if oid is None:
                    c.fail(f"{label(report)}: result {result!r} is not an Observation reference")
                elif oid not in observations:
                    c.fail(f"{reports.describe}: _include=DiagnosticReport:result left out "
                           f"Observation/{oid} (result of {label(report)})")
                elif category == "LAB" and lab_code is None:
                    lab_code = next((cd.get("code") for cd in codings(observations[oid].get("code"))
                                     if cd.get("system") == LOINC), None)

    # One lab test over time, oldest first.
    if lab_code:
        def has_code(o: dict) -> str | None:
            return None if has_coding(o.get("code"), LOINC, lab_code) else \
                f"code {o.get('code')!r} lacks {LOINC}|{lab_code}"

        series = run("Observation", [("patient", pid), ("code", f"{LOINC}|{lab_code}"),
                                     ("_sort", "date"), ("_count", SMALL_PAGE)], "Observation",
                     about_patient(has_code))
        if series is not None:
            times = [when(o) for o in series.matches]
            try:
                moments = [parse_time(t) for t in times if t is not None]
            except ValueError as e:
                moments = []
                c.fail(f"{series.describe}: an effective time does not parse: {e}")
            if None in times:
                c.fail(f"{series.describe}: an Observation has no effective time to sort on")
            elif moments != sorted(moments):
                c.fail(f"{series.describe}: _sort=date but the results are not oldest first: "
                       f"{times}")
            if not series.matches:
                c.fail(f"{series.describe}: no results, yet a LAB report of this patient has one")
            data.observations[pid] = (lab_code, series.matches)


def parse_time(value: str) -> datetime.datetime:
    """A FHIR date/dateTime/instant as an aware datetime (partial dates: their first moment)."""
    text = value.replace("Z", "+00:00")
    if len(text) > 10 and "." in text:  # fractional seconds: fromisoformat wants 3 or 6 digits
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{(rest[:digits] + '000000')[:6]}{rest[digits:]}"
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def check_bsn(c: Checker, data: PatientData) -> None:
    """c (cont.). Each sampled patient is found again by its BSN."""
    done: list[str] = []
    with c.check_group("BSN lookup", lambda: f"{len(done)} patients found by BSN"):
        for pid, patient in data.patients.items():
            bsn = bsn_of(patient)
            if not bsn:
                continue
            found = c.try_search("Patient", [("identifier", f"{BSN}|{bsn}")], "Patient",
                                 lambda p, bsn=bsn: None if bsn_of(p) == bsn
                                 else f"its BSN is {bsn_of(p)!r}, not {bsn}")
            if found is None:
                continue
            ids = [p.get("id") for p in found.matches]
            if ids != [pid]:
                c.fail(f"{found.describe}: found {ids}, expected exactly [{pid!r}]")
            done.append(pid)
        if data.patients and not any(bsn_of(p) for p in data.patients.values()):
            c.fail(f"none of the sampled patients has an identifier of {BSN}")


def check_required_types(c: Checker, data: PatientData) -> None:
    """c (cont.). Every type the portal reads was validated at least once."""
    with c.check_group("resource types", lambda: f"{len(c.counts)} types validated"):
        for rtype in REQUIRED_TYPES:
            if c.counts[rtype]:
                continue
            if not data.patients and rtype not in ("Bundle", "CapabilityStatement"):
                continue  # no patients to look at: already a problem of its own
            if rtype in OPTIONAL_IN_SAMPLE:
                c.notes.append(f"note: the sampled patients have no {rtype}; not validated")
            else:
                c.fail(f"no valid {rtype} was found, so none was validated")


def check_bindings_summary(c: Checker) -> None:
    """d. The binding problems were collected while validating; this reports them."""
    with c.check_group("code bindings", lambda: f"{c.codes_checked} codes checked"):
        for problem in c.binding_problems:
            c.fail(problem)


def check_fhirclient(c: Checker, data: PatientData) -> None:
    """e. The same data through fhirclient, as a real client reads it."""
    stats = Counter()

    def describe() -> str:
        return (f"{stats['patients']} patients, {stats['encounters']} encounters, "
                f"{stats['observations']} observations")

    with c.check_group("fhirclient", describe):
        smart = fhir_client.FHIRClient(settings={"app_id": "zvp-check", "api_base": c.base})
        # fhirclient's requests session has no timeout: give it ours so it cannot hang.
        session = smart.server.session
        plain_request = session.request

        def request_with_timeout(method: str, url: str, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", TIMEOUT)
            c.requests += 1
            return plain_request(method, url, **kwargs)

        session.request = request_with_timeout  # type: ignore[method-assign]

        def guarded(what: str, action: Callable[[], Any]) -> Any:
            try:
                return action()
            except FHIRValidationError as e:
                c.fail(f"fhirclient (strict R4 models) rejects {what}: "
                       + "; ".join(fhirclient_errors(e)))
            except (requests.ConnectionError, requests.Timeout) as e:
                raise NetworkError(f"fhirclient, {what}: {e}") from None
            except Exception as e:  # HTTP errors, bad next links, resourceType mismatches
                c.fail(f"fhirclient fails on {what}: {type(e).__name__}: {e}")
            return None

        # The client fetches /metadata itself only when asked to (prepare, authorize...).
        ready = guarded("GET metadata (FHIRClient.prepare)", smart.prepare)
        if ready is False:
            c.notes.append("note: fhirclient found SMART OAuth endpoints in the "
                           "CapabilityStatement; it read without a token")

        for pid, raw in data.patients.items():
            patient = guarded(f"Patient.read({pid})", lambda: FcPatient.read(pid, smart.server))
            if patient is None:
                continue
            stats["patients"] += 1
            if patient.id != pid:
                c.fail(f"fhirclient read Patient/{pid} and got id {patient.id!r}")
            bsn = next((i.value for i in patient.identifier or [] if i.system == BSN), None)
            if bsn != bsn_of(raw):
                c.fail(f"Patient/{pid}: fhirclient reads BSN {bsn!r}, the JSON has "
                       f"{bsn_of(raw)!r}")
            if families_of(patient.name) != families_of(raw.get("name")):
                c.fail(f"Patient/{pid}: fhirclient reads family names "
                       f"{families_of(patient.name)}, the JSON has {families_of(raw.get('name'))}")

            def encounters() -> list:
                search = FcEncounter.where(struct={"patient": pid, "class": "IMP",
                                                   "_count": SMALL_PAGE})
                return [r for bundle in limited(search.perform_iter(smart.server))
                        for r in (e.resource for e in bundle.entry or [])
                        if r is not None and r.resource_type == "Encounter"]

            found = guarded(f"Encounter?patient={pid}&class=IMP", encounters)
            if found is not None:
                stats["encounters"] += len(found)
                expected = data.encounter_counts.get(pid)
                if expected is not None and len(found) != expected:
                    c.fail(f"Encounter?patient={pid}&class=IMP: fhirclient finds {len(found)}, "
                           f"the raw search {expected}")

            if pid not in data.observations:
                continue
            code, raw_observations = data.observations[pid]

            def observations() -> list:
                search = FcObservation.where(struct={"patient": pid, "code": f"{LOINC}|{code}",
                                                     "_count": SMALL_PAGE})
                return [r for bundle in limited(search.perform_iter(smart.server))
                        for r in (e.resource for e in bundle.entry or [])
                        if r is not None and r.resource_type == "Observation"]

            read = guarded(f"Observation?patient={pid}&code={LOINC}|{code}", observations)
            if read is None:
                continue
            stats["observations"] += len(read)
            by_id = {o.id: o.as_json() for o in read}
            for raw_obs in raw_observations:
                mine = by_id.get(raw_obs.get("id"))
                if mine is None:
                    c.fail(f"fhirclient's Observation search for Patient/{pid} lacks "
                           f"{label(raw_obs)}")
                    continue
                for key in sorted(k for k in set(raw_obs) | set(mine)
                                  if k.startswith("value") or k in ("status", "effectiveDateTime")):
                    if mine.get(key) != raw_obs.get(key):
                        c.fail(f"{label(raw_obs)}.{key}: fhirclient reads {mine.get(key)!r}, "
                               f"the JSON has {raw_obs.get(key)!r}")
            if len(by_id) != len(raw_observations):
                c.fail(f"Observation?patient={pid}&code={LOINC}|{code}: fhirclient finds "
                       f"{len(by_id)}, the raw search {len(raw_observations)}")


def limited(pages: Iterator[Any]) -> Iterator[Any]:
    """At most MAX_PAGES pages of a fhirclient search (it follows `next` without end)."""
    for number, page in enumerate(pages):
        if number >= MAX_PAGES:
            raise RuntimeError(f"more than {MAX_PAGES} pages")
        yield page


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].startswith(("http://", "https://")):
        print(f"usage: {argv[0]} BASE_URL   (e.g. http://127.0.0.1:8080/fhir)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(DEADLINE)
    c = Checker(argv[1])
    try:
        statement = check_metadata(c)
        check_capabilities(c, statement)
        patient_ids = check_admissions(c)
        data = check_patient_data(c, patient_ids)
        check_bsn(c, data)
        check_required_types(c, data)
        check_bindings_summary(c)
        check_fhirclient(c, data)
    except NetworkError as e:
        print(f"fhir-check: cannot talk to the FHIR server at {c.base}: {e}", file=sys.stderr)
        return 2
    except Deadline:
        print(f"fhir-check: gave up after {DEADLINE} s ({c.requests} requests): the server at "
              f"{c.base} is too slow or hangs", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    for note in c.notes:
        print(f"fhir-check: {note}")
    versions = (f"fhir.resources {fhir.resources.__version__} (R4B) and read with "
                f"fhirclient {fhirclient.__version__}")
    if c.problems:
        print(f"fhir-check: FAILED, {len(c.problems)} problem(s) with {versions}:",
              file=sys.stderr)
        for problem in c.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    per_type = ", ".join(f"{t} {n}" for t, n in sorted(c.counts.items()))
    print(f"fhir-check: OK, validated {sum(c.counts.values())} resources ({per_type}) with "
          f"{versions}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
