//! Metadata reads: `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/:name/values`.
use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use model::{Labels, Matcher};
use serde_json::{Map, Value};
use tsdb::Querier;

use super::{match_params, success, time_range, ApiError, Params};
use crate::AppState;

/// A label set as the JSON object Prometheus returns.
pub fn labels_json(l: &Labels) -> Value {
    let mut m = Map::new();
    for label in l {
        m.insert(label.name.to_string(), Value::String(label.value.to_string()));
    }
    Value::Object(m)
}

fn union_series(q: &dyn Querier, sets: &[Vec<Matcher>]) -> Result<Vec<Labels>, ApiError> {
    let mut all = BTreeSet::new();
    for matchers in sets {
        all.extend(q.series(matchers)?);
    }
    Ok(all.into_iter().collect())
}

/// `GET|POST /api/v1/series`.
pub async fn series(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let sets = match_params(&params)?;
    if sets.is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let (start, end) = time_range(&params)?;
    let db = st.db.clone();
    let found = tokio::task::spawn_blocking(move || union_series(&db.querier(start, end), &sets))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(success(found.iter().map(labels_json).collect::<Vec<_>>()))
}

/// `GET|POST /api/v1/labels`.
pub async fn label_names(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let sets = match_params(&params)?;
    let (start, end) = time_range(&params)?;
    let db = st.db.clone();
    let names = tokio::task::spawn_blocking(move || -> Result<Vec<String>, ApiError> {
        let q = db.querier(start, end);
        if sets.is_empty() {
            return Ok(q.label_names(&[])?);
        }
        let mut names = BTreeSet::new();
        for matchers in &sets {
            names.extend(q.label_names(matchers)?);
        }
        Ok(names.into_iter().collect())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(success(names))
}

/// `GET /api/v1/label/:name/values`.
pub async fn label_values(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    if !model::is_valid_label_name(&name) {
        return Err(ApiError::BadData(format!("invalid label name: {name:?}")));
    }
    let sets = match_params(&params)?;
    let (start, end) = time_range(&params)?;
    let db = st.db.clone();
    let values = tokio::task::spawn_blocking(move || -> Result<Vec<String>, ApiError> {
        let q = db.querier(start, end);
        if sets.is_empty() {
            return Ok(q.label_values(&name, &[])?);
        }
        let mut values = BTreeSet::new();
        for matchers in &sets {
            values.extend(q.label_values(&name, matchers)?);
        }
        Ok(values.into_iter().collect())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(success(values))
}
