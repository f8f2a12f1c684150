/** @odoo-module **/
/*
 * Browser tours of the customer segmentation app, run by
 * customer_segmentation/tests/test_tours.py in English and in Chinese.
 *
 * Steps find what they act on by menu XML ids, field and button names, icons
 * and the names of the customers the test creates: never by a translated label,
 * so that the same tour runs in every language, and never by the layout of a
 * kanban card.
 *
 * A glue addon tours its own screens from its own web.assets_tests bundle and
 * tests/ (customer_segmentation_mass_mailing: sending a segment mailing), on
 * the test class SegmentationTourCase of tests/common_tour.py.
 */

import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const MODULE = "customer_segmentation";
const HAN = /[\u4e00-\u9fff]/;

function openApp() {
    return [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Customer Segmentation app",
            trigger: `.o_app[data-menu-xmlid='${MODULE}.customer_segmentation_menu_root']`,
            run: "click",
        },
    ];
}

function openMenu(section, item) {
    return [
        {
            content: `Open the ${section} menu`,
            trigger: `.o_main_navbar [data-menu-xmlid='${MODULE}.${section}']`,
            run: "click",
        },
        {
            content: `Open ${item}`,
            trigger: `.o-dropdown--menu [data-menu-xmlid='${MODULE}.${item}']`,
            run: "click",
        },
    ];
}

// Whichever view the action opens first. Clicking the switch of the view
// already shown would reload it under the next step's feet.
function switchToList() {
    return [
        {
            content: "Show the list",
            trigger: ".o_control_panel .o_switch_view.o_list",
            async run(helpers) {
                if (!helpers.anchor.classList.contains("active")) {
                    await helpers.click();
                }
            },
        },
        {
            content: "The list is shown",
            trigger: ".o_control_panel .o_switch_view.o_list.active",
        },
    ];
}

function openSegmentationTab() {
    return {
        content: "Open the Segmentation tab of the contact",
        trigger: ".o_form_view .o_notebook a.nav-link[name='customer_segmentation']",
        run: "click",
    };
}

/**
 * A step checking that the text of its trigger is in the user's language:
 * Chinese characters for a Chinese user, none for the others (the customers'
 * names of the test are Latin).
 */
function inUserLanguage(content, trigger) {
    return {
        content,
        trigger,
        run({ anchor }) {
            const text = anchor.textContent.trim();
            if (!text) {
                throw new Error(`${content}: the text is empty`);
            }
            if (user.lang.startsWith("zh") !== HAN.test(text)) {
                throw new Error(`${content}: not in the language ${user.lang}: ${text}`);
            }
        },
    };
}

registry.category("web_tour.tours").add("customer_segmentation_tour_overview", {
    url: "/odoo",
    steps: () => [
        ...openApp(),
        {
            content: "The app opens on the overview: a board of the stored figures",
            trigger: ".o_dashboard .o-dashboard-action .o_pivot .o_pivot_cell_value",
        },
        {
            content: "The board also shows the trends of the segments",
            trigger: ".o_dashboard .o-dashboard-action .o_graph_renderer",
        },
        ...openMenu("customer_segmentation_menu_customers", "res_partner_menu_customers_value"),
        {
            content: "Customers of different value tiers are in different columns",
            trigger:
                ".o_kanban_view .o_kanban_renderer.o_kanban_grouped" +
                " .o_kanban_group:has(.o_kanban_record:contains('Tour High Value Buyer'))" +
                ":not(:has(.o_kanban_record:contains('Tour Medium Buyer')))",
        },
        {
            content: "Open a customer from the kanban",
            trigger: ".o_kanban_record:contains('Tour High Value Buyer')",
            run: "click",
        },
        openSegmentationTab(),
        {
            content: "The customer's segments are shown",
            trigger: ".o_field_widget[name='segment_value_id']:not(:empty)",
        },
        inUserLanguage(
            "The form explains the customer's segments",
            ".o_field_widget[name='segmentation_explanation']"
        ),
    ],
});

// Starts on the form of a customer (the test gives the URL).
registry.category("web_tour.tours").add("customer_segmentation_tour_pin", {
    steps: () => [
        openSegmentationTab(),
        {
            content: "Pin a segment",
            trigger: ".o_form_view .o_notebook button:has(.fa-thumb-tack)",
            run: "click",
        },
        {
            content: "Pin it on the value dimension",
            trigger: ".modal .o_field_widget[name='dimension'] select",
            run: 'select "value"',
        },
        {
            content: "Choose the segment",
            trigger: ".modal .o_field_widget[name='segment_id'] input",
            run: "click",
        },
        {
            content: "The first segment of the dimension",
            trigger:
                ".modal .o-autocomplete--dropdown-item" +
                ":not(:has(.o_loading), .o_m2o_no_result, .o_m2o_start_typing, .o_m2o_dropdown_option)" +
                ":first a",
            run: "click",
        },
        {
            content: "The segment is chosen",
            trigger: ".modal .o_field_widget[name='segment_id'] input:not(:empty)",
        },
        {
            content: "Say why",
            trigger: ".modal .o_field_widget[name='reason'] textarea",
            run: "edit Tour: a key account whatever it buys",
        },
        {
            content: "Save the pin",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The pin is listed on the customer's form",
            trigger:
                "body:not(:has(.modal)) .o_field_widget[name='segment_override_ids']" +
                " .o_data_row:contains('Tour: a key account')",
        },
        inUserLanguage(
            "The explanation tells of the pin",
            ".o_field_widget[name='segmentation_explanation']"
        ),
    ],
});

registry.category("web_tour.tours").add("customer_segmentation_tour_pool", {
    url: "/odoo",
    steps: () => [
        ...openApp(),
        ...openMenu("customer_segmentation_menu_customers", "res_partner_menu_customer_pool"),
        ...switchToList(),
        {
            content: "Select a customer of the pool",
            trigger: ".o_list_view .o_data_row:contains('Tour Pool Customer') .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Claim it",
            trigger: ".o_control_panel button[name='action_claim_from_pool']",
            run: "click",
        },
        {
            content: "The claimed customer leaves the pool",
            trigger:
                ".o_list_view:has(.o_data_row)" +
                ":not(:has(.o_data_row:contains('Tour Pool Customer')))",
        },
    ],
});

registry.category("web_tour.tours").add("customer_segmentation_tour_churn", {
    url: "/odoo",
    steps: () => [
        ...openApp(),
        ...openMenu("customer_segmentation_menu_customers", "res_partner_menu_churn_risk"),
        ...switchToList(),
        {
            content: "Open a customer with a churn warning",
            trigger: ".o_list_view .o_data_row:contains('Tour Lapsing Buyer') td[name='display_name']",
            run: "click",
        },
        openSegmentationTab(),
        inUserLanguage(
            "The form says why the customer is at risk",
            ".o_field_widget[name='churn_risk_explanation']"
        ),
        {
            content: "Dismiss the warning",
            trigger: ".o_form_view .o_notebook button:has(.fa-bell-slash)",
            run: "click",
        },
        {
            content: "Say why it is a false alarm",
            trigger: ".modal .o_field_widget[name='reason'] textarea, .modal .o_field_widget[name='reason'] input",
            run: "edit Tour: orders once a year for the spring fair",
        },
        {
            content: "Confirm",
            trigger: ".modal button[name='action_dismiss']",
            run: "click",
        },
        {
            content: "The form shows the warning dismissed",
            trigger:
                "body:not(:has(.modal)) .o_field_widget[name='churn_dismiss_reason']" +
                ":contains('Tour: orders once a year')",
        },
    ],
});
