/*
 * onestop's moddle descriptors for the two extension dialects it reads: SpiffArena's
 * (spiffworkflow:, http://spiffworkflow.org/bpmn/schema/1.0/core) and Camunda 7's (camunda:,
 * http://camunda.org/schema/1.0/bpmn). modeller.js hands them to bpmn-js as moddleExtensions.
 *
 * Why every element of each vocabulary is declared, not only those the side panel edits: once a
 * namespace is known to moddle, an element of it that has no type is dropped on import (with a
 * warning) and lost on save. Declaring the whole vocabulary keeps a model drawn in SpiffArena's or
 * Camunda's modeller unchanged through a save here. Attributes are declared as text: a value is
 * written back exactly as it was read (no "true" -> true -> "true" round trip). Elements are
 * described in a compact notation of our own and expanded below:
 *
 *   "attr:name"          an XML attribute (text)
 *   "body:name"          the element's text content
 *   "text:name"          a child element holding text (<prefix:name>text</prefix:name>)
 *   "one:name:Type"      one child element of that type
 *   "many:name:Type"     any number of child elements of that type
 */
(function () {
  "use strict";

  function property(spec) {
    var parts = spec.split(":");
    var kind = parts[0];
    var name = parts[1];
    if (kind === "attr") {
      return { name: name, isAttr: true, type: "String" };
    }
    if (kind === "body") {
      return { name: name, isBody: true, type: "String" };
    }
    if (kind === "text") {
      return { name: name, type: "String" };
    }
    if (kind === "one" || kind === "many") {
      var described = { name: name, type: parts.slice(2).join(":") };
      if (kind === "many") {
        described.isMany = true;
      }
      return described;
    }
    throw new Error("onestop moddle: cannot read " + spec);
  }

  /* An element that may stand in bpmn:extensionElements (or inside another of the package's). */
  function element(name, specs, superClass) {
    return { name: name, superClass: superClass || ["Element"], properties: (specs || []).map(property) };
  }

  /* Attributes the dialect adds to BPMN's own elements. */
  function attributes(name, targets, names) {
    return {
      name: name,
      isAbstract: true,
      "extends": targets,
      properties: names.map(function (n) { return property("attr:" + n); })
    };
  }

  function pkg(name, uri, prefix, types) {
    return { name: name, uri: uri, prefix: prefix, xml: { tagAlias: "lowerCase" }, associations: [], types: types };
  }

  // SpiffArena: scripts, message payloads, forms (properties), instructions, service calls, unit
  // tests of scripts, task metadata, correlations.
  var textElements = ["PreScript", "PostScript", "MessagePayload", "MessageVariable", "CalledDecisionId",
    "InstructionsForEndUser", "AllowGuest", "GuestConfirmation", "Category", "SignalButtonLabel",
    "PayloadExpression", "VariableName", "InputJson", "ExpectedOutputJson"];
  var spiffworkflow = pkg("SpiffWorkflow", "http://spiffworkflow.org/bpmn/schema/1.0/core", "spiffworkflow",
    textElements.map(function (n) { return element(n, ["body:value"]); }).concat([
      element("Properties", ["many:properties:Property"]),
      element("Property", ["attr:name", "attr:value"]),
      element("ServiceTaskOperator", ["attr:id", "attr:resultVariable", "one:parameterList:Parameters", "one:retry:Retry"]),
      element("Parameters", ["many:parameters:Parameter"]),
      element("Parameter", ["attr:id", "attr:name", "attr:type", "attr:value"]),
      element("Retry", ["attr:retries", "attr:backoff_base"]),
      element("UnitTests", ["many:unitTests:UnitTest"]),
      element("UnitTest", ["attr:id", "one:inputJson:InputJson", "one:expectedOutputJson:ExpectedOutputJson"]),
      element("TaskMetadataValues", ["many:values:TaskMetadataValue"]),
      element("TaskMetadataValue", ["attr:name", "attr:value"]),
      element("ProcessVariableCorrelation", ["text:propertyId", "text:expression"]),
      attributes("ScriptsOnInstances", ["bpmn:MultiInstanceLoopCharacteristics", "bpmn:StandardLoopCharacteristics"],
        ["scriptsOnInstances"])
    ]));

  // Camunda 7: forms (formKey, formData), assignment, listeners, input/output mappings,
  // connectors, asynchronous continuations, call and decision bindings.
  var io = "InputOutputParameterDefinition";
  var camunda = pkg("Camunda", "http://camunda.org/schema/1.0/bpmn", "camunda", [
    attributes("DefinitionsAttributes", ["bpmn:Definitions"], ["diagramRelationId"]),
    attributes("FormAttributes", ["bpmn:StartEvent", "bpmn:UserTask"],
      ["formKey", "formHandlerClass", "formRef", "formRefBinding", "formRefVersion"]),
    attributes("StartAttributes", ["bpmn:StartEvent"], ["initiator"]),
    attributes("AssignmentAttributes", ["bpmn:UserTask"],
      ["assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate", "priority"]),
    attributes("AsyncAttributes", ["bpmn:Activity", "bpmn:Gateway", "bpmn:Event"],
      ["async", "asyncBefore", "asyncAfter", "exclusive", "jobPriority"]),
    attributes("ProcessAttributes", ["bpmn:Process"],
      ["candidateStarterGroups", "candidateStarterUsers", "versionTag", "historyTimeToLive",
        "isStartableInTasklist", "jobPriority", "taskPriority"]),
    attributes("TemplateAttributes", ["bpmn:Collaboration", "bpmn:Process", "bpmn:FlowElement"],
      ["modelerTemplate", "modelerTemplateVersion"]),
    attributes("DelegateAttributes", ["bpmn:ServiceTask", "bpmn:BusinessRuleTask", "bpmn:SendTask",
      "bpmn:MessageEventDefinition"], ["expression", "class", "delegateExpression", "resultVariable", "type", "topic",
      "taskPriority"]),
    attributes("DecisionAttributes", ["bpmn:BusinessRuleTask"],
      ["decisionRef", "decisionRefBinding", "decisionRefVersion", "decisionRefVersionTag", "mapDecisionResult",
        "decisionRefTenantId"]),
    attributes("ScriptAttributes", ["bpmn:ScriptTask"], ["resultVariable", "resource"]),
    attributes("CallAttributes", ["bpmn:CallActivity"],
      ["calledElementBinding", "calledElementVersion", "calledElementVersionTag", "calledElementTenantId",
        "caseRef", "caseBinding", "caseVersion", "caseTenantId", "variableMappingClass",
        "variableMappingDelegateExpression"]),
    attributes("LoopAttributes", ["bpmn:MultiInstanceLoopCharacteristics"],
      ["collection", "elementVariable", "async", "asyncBefore", "asyncAfter", "exclusive"]),
    attributes("SignalAttributes", ["bpmn:SignalEventDefinition"], ["async"]),
    attributes("ErrorAttributes", ["bpmn:ErrorEventDefinition"], ["errorCodeVariable", "errorMessageVariable"]),
    attributes("ErrorMessageAttributes", ["bpmn:Error"], ["errorMessage"]),
    attributes("EscalationAttributes", ["bpmn:EscalationEventDefinition"], ["escalationCodeVariable"]),
    attributes("ConditionalAttributes", ["bpmn:ConditionalEventDefinition"], ["variableName", "variableEvents"]),
    attributes("ExpressionAttributes", ["bpmn:FormalExpression"], ["resource"]),
    element("Properties", ["many:values:Property"]),
    element("Property", ["attr:id", "attr:name", "attr:value"]),
    element("In", ["attr:source", "attr:sourceExpression", "attr:target", "attr:businessKey", "attr:local",
      "attr:variables"]),
    element("Out", ["attr:source", "attr:sourceExpression", "attr:target", "attr:local", "attr:variables"]),
    element("PotentialStarter", ["one:resourceAssignmentExpression:bpmn:ResourceAssignmentExpression"]),
    element("Connector", ["one:inputOutput:InputOutput", "text:connectorId"]),
    element("InputOutput", ["many:inputParameters:InputParameter", "many:outputParameters:OutputParameter"]),
    element("InputParameter", ["attr:name", "body:value", "one:definition:" + io]),
    element("OutputParameter", ["attr:name", "body:value", "one:definition:" + io]),
    { name: io, isAbstract: true, superClass: ["Element"] },
    element("List", ["many:items:" + io], [io]),
    element("Map", ["many:entries:Entry"], [io]),
    element("Entry", ["attr:key", "body:value", "one:definition:" + io]),
    element("Value", ["attr:id", "attr:name", "body:value"], [io]),
    element("Script", ["attr:scriptFormat", "attr:resource", "body:value"], [io]),
    element("Field", ["attr:name", "attr:stringValue", "text:expression", "text:string"]),
    element("FailedJobRetryTimeCycle", ["body:body"]),
    element("ExecutionListener", ["attr:expression", "attr:class", "attr:delegateExpression", "attr:event",
      "one:script:Script", "many:fields:Field"]),
    element("TaskListener", ["attr:expression", "attr:class", "attr:delegateExpression", "attr:event", "attr:id",
      "one:script:Script", "many:fields:Field", "many:eventDefinitions:bpmn:TimerEventDefinition"]),
    element("ErrorEventDefinition", ["attr:expression"], ["bpmn:ErrorEventDefinition"]),
    element("FormProperty", ["attr:id", "attr:name", "attr:type", "attr:required", "attr:readable",
      "attr:writable", "attr:variable", "attr:expression", "attr:datePattern", "attr:default", "many:values:Value"]),
    element("FormData", ["attr:businessKey", "many:fields:FormField"]),
    element("FormField", ["attr:id", "attr:label", "attr:type", "attr:datePattern", "attr:defaultValue",
      "one:properties:Properties", "one:validation:Validation", "many:values:Value"]),
    element("Validation", ["many:constraints:Constraint"]),
    element("Constraint", ["attr:name", "attr:config"])
  ]);

  window.onestopModdleExtensions = { spiffworkflow: spiffworkflow, camunda: camunda };
})();
