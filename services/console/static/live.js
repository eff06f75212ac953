// Live decisions: one EventSource, each decision prepended as a row coloured by its outcome.
(function () {
  "use strict";
  var body = document.getElementById("live-rows");
  var status = document.getElementById("live-status");
  if (!body || !window.EventSource) { return; }
  var MAX_ROWS = 200;
  var source = new EventSource(body.getAttribute("data-stream"));
  function cell(text) { var td = document.createElement("td"); td.textContent = text; return td; }
  source.addEventListener("ready", function () { status.textContent = "Connected: new decisions appear at the top."; });
  source.addEventListener("decision", function (event) {
    var d = JSON.parse(event.data);
    var row = document.createElement("tr");
    row.className = d.outcome + " fresh";
    var badge = document.createElement("span");
    badge.className = "badge " + d.outcome;
    badge.textContent = d.outcome;
    var first = document.createElement("td"); first.appendChild(badge); row.appendChild(first);
    var link = document.createElement("a");
    link.href = "/console/decisions/" + encodeURIComponent(d.decision_id);
    link.textContent = d.shipment_id;
    var second = document.createElement("td"); second.appendChild(link); row.appendChild(second);
    row.appendChild(cell(d.exporter_id));
    row.appendChild(cell(d.trigger));
    row.appendChild(cell(d.reasons.join(", ")));
    row.appendChild(cell(d.decided_at.replace("T", " ").slice(0, 19)));
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > MAX_ROWS) { body.deleteRow(body.rows.length - 1); }
  });
  // A record on the topic that is not a signed decision: where it is and why, never its claims.
  source.addEventListener("unverified", function (event) {
    var u = JSON.parse(event.data);
    var row = document.createElement("tr");
    row.className = "unverified fresh";
    var badge = document.createElement("span");
    badge.className = "badge unverified";
    badge.textContent = "not a signed decision";
    var first = document.createElement("td"); first.appendChild(badge); row.appendChild(first);
    var what = cell("partition " + u.partition + " offset " + u.offset + ": " + u.problem);
    what.colSpan = 5;
    row.appendChild(what);
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > MAX_ROWS) { body.deleteRow(body.rows.length - 1); }
  });
  source.onerror = function () { status.textContent = "Disconnected: retrying…"; };
}());
