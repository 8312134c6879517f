//! The [`Epd`] methods of [`FhirEpd`]: each one deadline, its searches by the strategies the
//! server's CapabilityStatement allows, and every resource checked to be about the patient
//! asked for.

// The methods of the parent module's type, with its helpers and imports.
use super::*;

#[async_trait]
impl Epd for FhirEpd {
    async fn admitted(
        &self,
        gps: &[AgbCode],
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        self.within(self.listed(
            gps,
            vec![("status", "in-progress".to_owned())],
            |_, a| a.discharged_at().is_none(),
            ctx,
        ))
        .await
    }

    async fn discharged_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        self.within(self.listed(
            gps,
            vec![
                ("status", "finished".to_owned()),
                ("date", encode(&format!("ge{}", instant(since)))),
            ],
            |_, a| a.discharged_at().is_some_and(|d| d >= since),
            ctx,
        ))
        .await
    }

    async fn changed_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Changes, EpdError> {
        self.within(self.changes(gps, since, ctx)).await
    }

    async fn find_by_bsn(
        &self,
        bsn: Bsn,
        birth_date: Option<NaiveDate>,
        ctx: &RequestContext,
    ) -> Result<Option<PatientId>, EpdError> {
        self.within(async {
            let mut params = vec![("identifier", token(BSN_SYSTEM, &bsn.to_string()))];
            if let Some(d) = birth_date {
                params.push(("birthdate", d.to_string()));
            }
            let found = self.search("Patient", &params, ctx).await?;
            let mut ids = Vec::new();
            for f in found.iter().filter(|f| f.kind == "Patient" && !f.include) {
                let p = fhir::patient_from_fhir(&parse_value(&f.text)?).map_err(malformed)?;
                if p.bsn == Some(bsn) && birth_date.is_none_or(|d| d == p.birth_date) {
                    ids.push(p.id);
                }
            }
            match ids.len() {
                0 | 1 => Ok(ids.pop()),
                _ => Err(EpdError::Malformed(
                    "the epd has more than one patient with this bsn".to_owned(),
                )),
            }
        })
        .await
    }

    async fn patient(&self, id: &PatientId, ctx: &RequestContext) -> Result<Patient, EpdError> {
        self.within(async {
            let found = match self.strategies(ctx).await?.patient_consents {
                Strategy::Included => {
                    let params = [
                        ("_id", encode(id.as_str())),
                        ("_revinclude", encode("Consent:patient")),
                    ];
                    self.search("Patient", &params, ctx).await?
                }
                Strategy::Separate => {
                    let params = [("_id", encode(id.as_str()))];
                    let of = [id];
                    let (mut patients, consents) = tokio::try_join!(
                        self.search("Patient", &params, ctx),
                        self.consents_of(&of, ctx),
                    )?;
                    patients.extend(consents);
                    patients
                }
            };
            self.patients_with_restrictions(&found, ctx)
                .await?
                .remove(id)
                .ok_or_else(|| EpdError::NotFound(format!("patient {id}")))
        })
        .await
    }

    async fn care_moments(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<CareMoment>, EpdError> {
        self.within(async {
            let inpatient = [("class", "IMP".to_owned())];
            let (referrals, appointments, operations, admissions) = tokio::try_join!(
                self.about("ServiceRequest", id, &[], ctx, fhir::care_moment_from_fhir),
                self.about("Appointment", id, &[], ctx, fhir::care_moment_from_fhir),
                self.about("Procedure", id, &[], ctx, fhir::care_moment_from_fhir),
                self.about(
                    "Encounter",
                    id,
                    &inpatient,
                    ctx,
                    fhir::care_moment_from_fhir
                ),
            )?;
            let mut moments: Vec<CareMoment> = referrals
                .into_iter()
                .chain(appointments)
                .chain(operations)
                .chain(admissions)
                .collect();
            moments.sort_by_key(|m| m.at);
            Ok(moments)
        })
        .await
    }

    async fn admissions(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<zvp_core::Admission>, EpdError> {
        self.within(async {
            let inpatient = [("class", "IMP".to_owned())];
            let mut admissions = self
                .about("Encounter", id, &inpatient, ctx, |r| {
                    fhir::admission_from_fhir(r).map(|a| (a.patient.clone(), a))
                })
                .await?;
            admissions.sort_by_key(zvp_core::Admission::admitted_at);
            Ok(admissions)
        })
        .await
    }

    async fn allergies(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Allergy>, EpdError> {
        self.within(self.about("AllergyIntolerance", id, &[], ctx, fhir::allergy_from_fhir))
            .await
    }

    async fn conclusions(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<ConclusionAndPlan>, EpdError> {
        self.within(self.about(
            "ClinicalImpression",
            id,
            &[],
            ctx,
            fhir::conclusion_from_fhir,
        ))
        .await
    }

    async fn letters(&self, id: &PatientId, ctx: &RequestContext) -> Result<Vec<Letter>, EpdError> {
        self.within(self.about("DocumentReference", id, &[], ctx, fhir::letter_from_fhir))
            .await
    }

    async fn diagnoses(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Diagnosis>, EpdError> {
        self.within(self.about("Condition", id, &[], ctx, fhir::diagnosis_from_fhir))
            .await
    }

    async fn medication(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Medication>, EpdError> {
        self.within(self.about(
            "MedicationStatement",
            id,
            &[],
            ctx,
            fhir::medication_from_fhir,
        ))
        .await
    }

    async fn results(
        &self,
        id: &PatientId,
        category: ResultCategory,
        ctx: &RequestContext,
    ) -> Result<Vec<ResultReport>, EpdError> {
        self.within(async {
            let mut params = vec![("patient", patient_reference(id))];
            // Every code the category is filed under, as one OR search; the reports the
            // portal has no category for are found by asking for all and keeping those.
            let codes = fhir::category_codes(category);
            if !codes.is_empty() {
                let any: Vec<String> = codes.iter().map(|&(s, c)| token(s, c)).collect();
                params.push(("category", any.join(",")));
            }
            if self.strategies(ctx).await?.report_results == Strategy::Included {
                params.push(("_include", encode("DiagnosticReport:result")));
            }
            let mut found = self.search("DiagnosticReport", &params, ctx).await?;
            // Each report parsed once, for its result references and then for itself.
            let mut parsed: Vec<Value> = found
                .iter()
                .filter(|f| f.kind == "DiagnosticReport" && !f.include)
                .map(|f| parse_value(&f.text))
                .collect::<Result<_, _>>()?;
            parsed.retain(|report| !fhir::recorded_in_error(report));
            // Results the server did not include (or was not asked to) are read by id.
            let missing: Vec<String> = {
                let have: std::collections::HashSet<&str> = found
                    .iter()
                    .filter(|f| f.kind == "Observation")
                    .filter_map(|f| f.id.as_deref())
                    .collect();
                let mut missing = Vec::new();
                for report in &parsed {
                    for r in fhir::report_result_ids(report) {
                        if !have.contains(r.as_str()) && !missing.contains(&r) {
                            missing.push(r);
                        }
                    }
                }
                missing
            };
            if !missing.is_empty() {
                let ids: Vec<&str> = missing.iter().map(String::as_str).collect();
                found.extend(self.by_ids("Observation", &ids, ctx).await?);
            }
            let observations: HashMap<&str, &str> = found
                .iter()
                .filter(|f| f.kind == "Observation")
                .filter_map(|f| Some((f.id.as_deref()?, f.text.get())))
                .collect();
            let mut reports = Vec::new();
            for resource in &parsed {
                let (of, report) =
                    fhir::report_from_fhir(resource, |oid| observations.get(oid).copied())
                        .map_err(malformed)?;
                if &of != id {
                    return Err(other_patient("DiagnosticReport"));
                }
                // A LAB search also finds the nuclear lab's reports (they are LAB too), and
                // the search for the others finds every report.
                if report.category == category {
                    reports.push(report);
                }
            }
            reports.sort_by_key(|r| std::cmp::Reverse(r.issued));
            Ok(reports)
        })
        .await
    }

    async fn lab_history(
        &self,
        id: &PatientId,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<LabObservation>, EpdError> {
        self.within(async {
            let params = [
                ("patient", patient_reference(id)),
                ("code", encode(code)),
                ("_sort", "date".to_owned()),
            ];
            let found = self.search("Observation", &params, ctx).await?;
            let mut history = Vec::new();
            for f in found
                .iter()
                .filter(|f| f.kind == "Observation" && !f.include)
            {
                let Some((of, o)) = fhir::observation_in_record(f.text.get()).map_err(malformed)?
                else {
                    continue;
                };
                if &of != id {
                    return Err(other_patient("Observation"));
                }
                if o.code.code == code {
                    history.push(o);
                }
            }
            history.sort_by_key(|o| o.effective);
            Ok(history)
        })
        .await
    }

    async fn document(
        &self,
        id: &PatientId,
        document: &DocumentId,
        ctx: &RequestContext,
    ) -> Result<Document, EpdError> {
        self.within(async {
            let url = format!(
                "{}/DocumentReference/{}",
                self.base,
                encode(document.as_str())
            );
            // The raw answer and its tree go before the attachment is read.
            let (letter, attachment) = {
                let body = self.get(&url, ctx).await?;
                let value: Value = serde_json::from_slice(&body)
                    .map_err(|e| EpdError::Malformed(fhir::json_error(&e)))?;
                let (of, letter, attachment) =
                    fhir::document_reference_from_fhir(&value).map_err(malformed)?;
                // Another patient's document is, for this patient, not there; nor is one
                // recorded in error.
                if &of != id || &letter.id != document || fhir::recorded_in_error(&value) {
                    return Err(EpdError::NotFound(format!("document {document}")));
                }
                (letter, attachment)
            };
            let attachment = match attachment.data {
                AttachmentData::Url(url) => {
                    let body = self.get(&self.attachment_url(&url)?, ctx).await?;
                    let value: Value = serde_json::from_slice(&body)
                        .map_err(|e| EpdError::Malformed(fhir::json_error(&e)))?;
                    fhir::binary_from_fhir(&value).map_err(malformed)?
                }
                AttachmentData::Inline(_) => attachment,
            };
            let AttachmentData::Inline(bytes) = attachment.data else {
                return Err(EpdError::Malformed("Binary: no data".to_owned()));
            };
            let content = fhir::document_content(
                &attachment.media_type,
                attachment.charset.as_deref(),
                bytes,
            )
            .map_err(malformed)?;
            Ok(fhir::document_of(letter, content))
        })
        .await
    }

    async fn check(&self, ctx: &RequestContext) -> Result<(), EpdError> {
        self.within(async {
            let capabilities = self.capabilities(ctx).await?;
            // The first successful read chooses the strategies, if no request did yet.
            let _ = self.strategies.set(Strategies::choose(&capabilities));
            Ok(())
        })
        .await
    }
}
